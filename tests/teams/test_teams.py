"""Teams of technicians: members in order, renames, refusals with nothing written."""
from __future__ import annotations

from flask.testing import FlaskClient

from tests.factories import Factory

PROBLEM = "application/problem+json"


def test_team_lifecycle(client: FlaskClient, headers, make: Factory, count_rows) -> None:
    auth = headers(role="dispatcher")
    wang, li = make.technician(name="王工"), make.technician(name="李工")
    team = client.post("/api/v1/teams", json={"name": "华东安装队", "technician_ids": [str(wang.id), str(li.id)]},
                       headers=auth)
    assert team.status_code == 201 and team.get_json()["technician_ids"] == [str(wang.id), str(li.id)]
    team_id = team.get_json()["id"]
    reordered = client.patch(f"/api/v1/teams/{team_id}", json={"technician_ids": [str(li.id), str(wang.id)]},
                             headers=auth)
    assert reordered.status_code == 200 and reordered.get_json()["technician_ids"] == [str(li.id), str(wang.id)]
    listed = client.get("/api/v1/teams?q=华东", headers=headers(role="office")).get_json()
    assert [t["name"] for t in listed["items"]] == ["华东安装队"]
    before = count_rows()
    for body, status in (({"name": "华东安装队"}, 409),                                  # name taken
                         ({"name": "x", "technician_ids": [str(wang.id), str(wang.id)]}, 422),
                         ({"name": "x", "technician_ids": ["00000000-0000-0000-0000-000000000001"]}, 422),
                         ({"name": ""}, 422)):
        response = client.post("/api/v1/teams", json=body, headers=auth)
        assert response.status_code == status and response.mimetype == PROBLEM, body
    assert count_rows() == before
