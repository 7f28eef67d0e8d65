// The admin console in a real browser (Debian's chromium through
// playwright-core): sign in, generate an organization SAT and use it on
// /scim/v2/Users, create a workspace, generate a workspace SAT with two
// permissions, revoke it, and find all of it in the Audit Logs page; then
// stream the audit log to a receiver on loopback and see its status.
// A screenshot of every page visited goes to $OUT_DIR. Run by ./run, which
// starts the server and sets the environment below.

import { chromium } from "playwright-core";
import { createHmac } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import assert from "node:assert/strict";

const BASE = process.env.SCIMITAR_URL;
const ORG = process.env.CONSOLE_ORG;
const USER = process.env.CONSOLE_USER;
const PASSWORD = process.env.CONSOLE_PASSWORD;
const OUT = process.env.OUT_DIR ?? "test-output/browser";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
assert.ok(BASE && ORG && USER && PASSWORD, "SCIMITAR_URL, CONSOLE_ORG, CONSOLE_USER and CONSOLE_PASSWORD are required");

mkdirSync(OUT, { recursive: true });
const profile = mkdtempSync(join(tmpdir(), "scimitar-chromium-"));
// A fresh profile (--user-data-dir) every run; playwright passes it on.
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1280, height: 900 },
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const page = context.pages()[0] ?? (await context.newPage());

// Everything the page loads must come from the server itself, and no page
// may log an error (a CSP violation would).
const problems = [];
page.on("request", (r) => {
  if (!r.url().startsWith(BASE) && !r.url().startsWith("data:")) problems.push(`outside request: ${r.url()}`);
});
// Pages answered with 401/403 on purpose log "Failed to load resource";
// a failing asset is caught by the response check instead.
page.on("console", (m) => {
  if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`console error: ${m.text()}`);
});
page.on("response", (r) => {
  if (r.request().resourceType() !== "document" && r.status() >= 400) problems.push(`asset failed: ${r.status()} ${r.url()}`);
});
page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));

let shots = 0;
async function shot(name) {
  shots += 1;
  const file = join(OUT, `${String(shots).padStart(2, "0")}-${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${file}`);
}
function step(text) { console.log(`- ${text}`); }

try {
  step("an unauthenticated visit goes to sign-in");
  await page.goto(`${BASE}/console/tokens`);
  assert.match(new URL(page.url()).pathname, /\/console\/sign-in$/);
  await shot("sign-in");

  step("a wrong password is refused");
  await page.locator("#organization").fill(ORG);
  await page.getByLabel("User name").fill(USER);
  await page.getByLabel("Password").fill("not the password");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByText("Wrong organization, user name or password.").waitFor();
  await shot("sign-in-refused");

  step("sign in");
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("heading", { name: "Service Access Tokens" }).waitFor();
  await shot("tokens-organization");

  step("generate an organization SAT");
  await page.getByRole("link", { name: "Generate new token" }).click();
  await page.getByLabel("Name").fill("okta provisioning");
  await page.getByLabel("Description").fill("SCIM for Okta");
  await page.getByLabel("Expiry").selectOption("90");
  await page.getByLabel("scim:read").check();
  await page.getByLabel("scim:write").check();
  await shot("generate-organization-token");
  await page.getByRole("button", { name: "Generate token" }).click();
  await page.getByRole("heading", { name: "Token created" }).waitFor();
  await page.getByText("It will not be shown again").waitFor();
  const orgToken = await page.getByLabel("Token value").inputValue();
  assert.match(orgToken, /^scim_sat_[0-9A-Za-z]{60}$/);
  await page.getByRole("button", { name: "Copy" }).click();
  // The embedded script ran under the CSP and answered the click.
  await page.locator("#copy-status").filter({ hasText: /Copied\.|Ctrl\+C/ }).waitFor();
  await shot("organization-token-created");

  step("the shown value works on /scim/v2/Users");
  const scim = await fetch(`${BASE}/scim/v2/Users`, { headers: { authorization: `Bearer ${orgToken}` } });
  assert.equal(scim.status, 200, await scim.text());

  step("the value is not shown again");
  await page.getByRole("link", { name: /back to Service Access Tokens/ }).click();
  await page.locator("tr", { hasText: "okta provisioning" }).first().waitFor();
  assert.ok(!(await page.content()).includes(orgToken), "token value shown again on the list");
  await shot("tokens-after-create");

  step("a token used only for reads shows scim:write unused, and is reduced in one click");
  const okta = page.locator("tr", { hasText: "okta provisioning" }).first();
  const reduce = okta.getByRole("button", { name: /Reduce okta provisioning to its suggested permissions/ });
  // The read above is counted in memory and flushed within 200 ms.
  for (let i = 0; i < 50 && !(await reduce.count()); i++) {
    await new Promise((r) => setTimeout(r, 200));
    await page.reload();
  }
  const unused = await okta.locator(".unused").innerText();
  assert.ok(unused.includes("scim:write") && !unused.includes("scim:read"), unused);
  await shot("tokens-unused-permission");
  await reduce.click();
  await page.getByText("Token “okta provisioning” was changed.").waitFor();
  const reduced = page.locator("tr", { hasText: "okta provisioning" }).first();
  const held = await reduced.locator("td[data-label='Permissions']").innerText();
  assert.ok(held.includes("scim:read") && !held.includes("scim:write"), held);
  assert.equal(await reduced.getByText(/Unused in 30 days/).count(), 0);
  await shot("tokens-reduced");
  const me = await fetch(`${BASE}/api/v1/tokens/self`, { headers: { authorization: `Bearer ${orgToken}` } });
  assert.deepEqual((await me.json()).permissions, ["scim:read"]);

  step("create a workspace");
  await page.getByRole("link", { name: "Workspaces" }).click();
  await page.getByLabel("Name").fill("prod");
  await page.getByRole("button", { name: "Create workspace" }).click();
  await page.getByText("Workspace “prod” was created.").waitFor();
  await shot("workspaces");

  step("a token's Edit page: the catalogue's picker with its permissions checked");
  await page.getByRole("link", { name: "Service Access Tokens" }).click();
  await page.getByRole("link", { name: "Edit okta provisioning" }).click();
  await page.getByRole("heading", { name: /Edit “okta provisioning”/ }).waitFor();
  assert.ok(await page.getByLabel("scim:read").isChecked());
  assert.ok(!(await page.getByLabel("scim:write").isChecked()));
  await shot("token-edit");
  await page.getByRole("link", { name: "Cancel" }).click();

  step("the Group mappings page");
  await page.getByRole("link", { name: "Group mappings" }).click();
  await page.getByRole("heading", { name: "Group mappings" }).waitFor();
  await page.getByText("No group is mapped yet.").waitFor();
  await shot("group-mappings");

  step("generate a workspace SAT with two permissions");
  await page.getByRole("link", { name: "Service Access Tokens" }).click();
  await page.getByRole("link", { name: "Workspace", exact: true }).click();
  await shot("tokens-workspace");
  await page.getByRole("link", { name: "Generate new token" }).click();
  await page.getByLabel("Name").fill("transformer");
  await page.getByLabel("Workspace").selectOption({ label: "prod" });
  await page.getByRole("group", { name: "Transformations" }).getByLabel("Edit").check();
  await page.getByRole("group", { name: "Sources" }).getByLabel("Read").check();
  await shot("generate-workspace-token");
  await page.getByRole("button", { name: "Generate token" }).click();
  await page.getByRole("heading", { name: "Token created" }).waitFor();
  const wsToken = await page.getByLabel("Token value").inputValue();
  assert.match(wsToken, /^scim_sat_/);
  const perms = await page.locator("ul.perms code").allTextContents();
  assert.deepEqual(perms.sort(), ["sources:read", "transformations:edit"]);
  await shot("workspace-token-created");

  step("revoke the workspace SAT, after confirming");
  await page.getByRole("link", { name: /back to Service Access Tokens/ }).click();
  await page.getByRole("link", { name: "Revoke transformer" }).click();
  await page.getByRole("heading", { name: /Revoke “transformer”/ }).waitFor();
  await shot("revoke-confirm");
  await page.getByRole("button", { name: "Revoke token" }).click();
  await page.getByText("Token “transformer” was revoked.").waitFor();
  const row = page.locator("tr", { hasText: "transformer" });
  await row.getByText("Revoked").waitFor();
  await shot("tokens-after-revoke");
  const self = await fetch(`${BASE}/api/v1/tokens/self`, { headers: { authorization: `Bearer ${wsToken}` } });
  assert.equal(self.status, 401, "a revoked token must be refused");

  step("the Audit Logs page lists these operations");
  await page.getByRole("link", { name: "Audit Logs" }).click();
  await page.getByRole("heading", { name: "Audit Logs" }).waitFor();
  await shot("audit-logs");
  const actions = await page.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.action));
  for (const a of ["auth.login", "sat.create", "workspace.create", "sat.revoke"]) {
    assert.ok(actions.includes(a), `${a} missing from the Audit Logs page: ${actions.join(", ")}`);
  }
  assert.equal(actions.filter((a) => a === "sat.create").length, 2);
  assert.ok(!actions.includes("sat.list"), `reads are hidden by default: ${actions.join(", ")}`);

  step("the kind filter shows reads on request");
  await page.getByLabel("Show").selectOption("read");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/kind=read/);
  const reads = await page.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.action));
  assert.ok(reads.includes("sat.list"), reads.join(", "));
  assert.ok(!reads.includes("sat.create"), reads.join(", "));
  await shot("audit-logs-reads");
  await page.goto(`${BASE}/console/audit-logs`);

  step("filter by action and outcome");
  await page.getByLabel("Action").fill("sat.*");
  await page.getByLabel("Outcome").selectOption("success");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/action=sat/);
  const filtered = await page.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.action));
  // Reads are recorded too (sat.list for each token page seen).
  assert.ok(filtered.every((a) => a.startsWith("sat.")), filtered.join(", "));
  const changes = filtered.filter((a) => a === "sat.create" || a === "sat.revoke");
  assert.deepEqual(changes.sort(), ["sat.create", "sat.create", "sat.revoke"]);
  await shot("audit-logs-filtered");

  step("a record's detail view");
  await page.locator("tr[data-action='sat.revoke'] a").first().click();
  await page.getByRole("heading", { name: "sat.revoke" }).waitFor();
  assert.ok((await page.content()).includes("member_session"), "actor kind member_session");
  await shot("audit-record");

  step("export, with the filters");
  const exported = await context.request.get(`${BASE}/console/audit-logs/export?action=sat.*&format=ndjson`);
  assert.equal(exported.status(), 200);
  const lines = (await exported.text()).trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(lines.every((l) => l.action.startsWith("sat.")));
  assert.deepEqual(
    lines.map((l) => l.action).filter((a) => a === "sat.create" || a === "sat.revoke"),
    ["sat.create", "sat.create", "sat.revoke"],
  );
  assert.ok(!(await exported.text()).includes(orgToken), "no token value in the audit log");

  step("chain verification");
  await page.goto(`${BASE}/console/audit-logs`);
  await page.getByRole("link", { name: "Verify chain" }).click();
  await page.getByText("Chain intact.").waitFor();
  await shot("audit-verify");

  step("an audit stream to a receiver on loopback, and its delivery status");
  const received = [];
  const receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => { body += c; });
    req.on("end", () => { received.push({ headers: req.headers, body }); res.writeHead(204).end(); });
  });
  await new Promise((r) => receiver.listen(0, "127.0.0.1", r));
  try {
    await page.goto(`${BASE}/console/audit-streams`);
    await page.getByText("No audit streams yet.").waitFor();
    await page.getByLabel("Receiver URL (https)").fill(`http://127.0.0.1:${receiver.address().port}/ingest`);
    await page.getByLabel("Format").selectOption("ndjson");
    await page.getByRole("button", { name: "Create stream" }).click();
    await page.getByText("Copy this signing secret now.").waitFor();
    const secret = await page.locator("#token-value").inputValue();
    assert.match(secret, /^whsec_[0-9a-f]{64}$/);
    await shot("audit-stream-created");
    // Pages seen from now on are new records: they reach the receiver, signed.
    await page.goto(`${BASE}/console/tokens`);
    for (let i = 0; i < 100 && received.length === 0; i++) await new Promise((r) => setTimeout(r, 100));
    assert.ok(received.length > 0, "the receiver got a batch");
    const first = received[0];
    const signed = createHmac("sha256", secret).update(`${first.headers["scimitar-timestamp"]}.${first.body}`).digest("hex");
    assert.equal(first.headers["scimitar-signature"], `v1=${signed}`);
    const line = JSON.parse(first.body.split("\n")[0]);
    assert.equal(String(line.seq), first.headers["scimitar-seq-first"]);
    await page.goto(`${BASE}/console/audit-streams`);
    await page.getByRole("cell", { name: "delivering", exact: true }).waitFor();
    assert.ok(!(await page.content()).includes(secret), "the secret is shown once");
    await shot("audit-streams-status");
  } finally {
    receiver.close();
  }

  step("a narrow screen");
  await page.setViewportSize({ width: 375, height: 800 });
  await page.goto(`${BASE}/console/tokens`);
  await page.getByRole("link", { name: "Generate new token" }).waitFor();
  await shot("tokens-narrow");
  await page.goto(`${BASE}/console/tokens/new?tab=workspace`);
  await shot("generate-workspace-token-narrow");
  await page.setViewportSize({ width: 1280, height: 900 });

  step("keyboard: the skip link comes first and focuses the content");
  await page.goto(`${BASE}/console/tokens`);
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement?.textContent), "Skip to content");

  step("sign out");
  await page.getByRole("button", { name: "Sign out" }).click();
  await page.getByText("You have signed out.").waitFor();
  await shot("signed-out");
  await page.goto(`${BASE}/console/tokens`);
  assert.match(new URL(page.url()).pathname, /\/console\/sign-in$/);

  assert.deepEqual(problems, [], problems.join("\n"));
  console.log(`browser test passed (${shots} screenshots in ${OUT})`);
} catch (e) {
  await shot("failure").catch(() => {});
  console.error(problems.join("\n"));
  throw e;
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}
