// tus-js-client 4 in Node against the fieldservice uploads (driven by tests/clients/test_tus_js_client.py).
// Prints one JSON line per step. Env: BASE_URL, TOKEN, VISIT_ID, FILE (a JPEG), FILE2 (another JPEG).
'use strict';
const fs = require('fs');
const tus = require('tus-js-client');

const { BASE_URL, TOKEN, VISIT_ID, FILE, FILE2 } = process.env;
const out = (step, data) => console.log(JSON.stringify({ step, ...data }));

function upload(data, options) {
  return new Promise((resolve, reject) => {
    const statuses = [];
    const up = new tus.Upload(data, {
      endpoint: `${BASE_URL}/api/v1/uploads`,
      headers: { Authorization: `Bearer ${TOKEN}` },
      metadata: { visit_id: VISIT_ID, kind: 'fault', filename: 'fault.jpg', filetype: 'image/jpeg' },
      chunkSize: 16 * 1024,
      retryDelays: null,
      onAfterResponse: (req, res) => {
        statuses.push([req.getMethod(), res.getStatus(), res.getHeader('Tus-Resumable') || null,
                       req.getHeader('X-HTTP-Method-Override') || null]);
      },
      onError: (err) => reject(err),
      onSuccess: (payload) => resolve({ up, statuses, photoId: payload.lastResponse.getHeader('Photo-Id') }),
      ...options(() => up),
    });
    up.start();
  });
}

async function main() {
  const file = fs.readFileSync(FILE);
  // 1. stop after the first chunk (the signal is lost), then resume with a new Upload on the same URL
  let firstUrl = null;
  await new Promise((resolve, reject) => {
    const up = new tus.Upload(file, {
      endpoint: `${BASE_URL}/api/v1/uploads`,
      headers: { Authorization: `Bearer ${TOKEN}` },
      metadata: { visit_id: VISIT_ID, kind: 'fault', filetype: 'image/jpeg' },
      chunkSize: 16 * 1024,
      retryDelays: null,
      onError: reject,
      onChunkComplete: () => { firstUrl = up.url; up.abort().then(resolve, reject); },
    });
    up.start();
  });
  const resumed = await upload(file, () => ({ uploadUrl: firstUrl }));
  out('resumed', { url: firstUrl, photo_id: resumed.photoId, statuses: resumed.statuses });

  // 2. a proxy that drops PATCH: overridePatchMethod sends POST + X-HTTP-Method-Override: PATCH
  const overridden = await upload(fs.readFileSync(FILE2), () => ({ overridePatchMethod: true }));
  out('override', { photo_id: overridden.photoId, statuses: overridden.statuses });
}

main().catch((err) => { console.error(String(err && err.stack || err)); process.exit(1); });
