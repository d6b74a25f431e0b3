// Compiled by tests/clients/test_generated_client.py with tsc --strict against types that openapi-typescript
// generated from /api/openapi.json: a mobile team's typed client. A type error here fails the test.
import createClient from "openapi-fetch";
import type { components, paths } from "./generated/api";

type Problem = components["schemas"]["Problem"];
type WorkOrder = components["schemas"]["WorkOrder"];

export async function example(baseUrl: string, token: string, id: string): Promise<string> {
  const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
  const read = await client.GET("/api/v1/work-orders/{work_order_id}", {
    params: { path: { work_order_id: id } },
  });
  if (read.error) {
    const problem: Problem = read.error;
    return `${problem.status} ${problem.type}`;
  }
  const order: WorkOrder = read.data;
  const etag = read.response.headers.get("ETag") ?? "";
  const edit = await client.PATCH("/api/v1/work-orders/{work_order_id}", {
    params: { path: { work_order_id: id }, header: { "If-Match": etag } },
    body: { summary: "空调不制冷" },
  });
  const customers = await client.GET("/api/v1/customers", { params: { query: { page: 1, sort: "-created_at" } } });
  const notes: string | null | undefined = customers.data?.items?.[0]?.notes;
  return `${order.number ?? ""} ${edit.response.status} ${notes ?? ""}`;
}
