// Sign-in through the identity provider, the whole story, in a real
// browser (Debian's chromium through playwright-core), against the test
// OpenID provider of tests/oidc (the certified `oidc-provider`, started
// here on loopback):
//
//   1. the admin configures single sign-on on the console's page (a
//      refused issuer first, then the provider);
//   2. a SAT provisions a person by SCIM as Okta does (a filtered GET, then
//      POST /Users; POST /Groups, then PATCH its members);
//   3. a group mapping maps that group to the admin role (console);
//   4. in a fresh browser context the person signs in with "Sign in with
//      your identity provider" through the provider's login form, reaches
//      the console, generates a SAT, sees its value once and the list,
//      and signs out;
//   5. signed in again, the person is deactivated by SCIM: their next
//      console request is refused, and so is a new sign-in;
//   6. with `break_glass_only`, a normal member's password is refused in
//      the console, and the break-glass admin's is allowed and recorded.
//
// A screenshot of every step goes to $OUT_DIR (numbered after the console
// test's). Run by ./run after console.spec.mjs, on the same server: it
// sets SCIMITAR_URL, CONSOLE_ORG/USER/PASSWORD (a break-glass admin) and
// MEMBER_USER/MEMBER_PASSWORD (a member with a password, not break-glass).

import { chromium } from "playwright-core";
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdirSync } from "node:fs";
import { createInterface } from "node:readline";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import assert from "node:assert/strict";

const BASE = process.env.SCIMITAR_URL;
const ORG = process.env.CONSOLE_ORG;
const ADMIN = process.env.CONSOLE_USER;
const ADMIN_PASSWORD = process.env.CONSOLE_PASSWORD;
const MEMBER = process.env.MEMBER_USER;
const MEMBER_PASSWORD = process.env.MEMBER_PASSWORD;
const OUT = process.env.OUT_DIR ?? "test-output/browser";
const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
assert.ok(
  BASE && ORG && ADMIN && ADMIN_PASSWORD && MEMBER && MEMBER_PASSWORD,
  "SCIMITAR_URL, CONSOLE_ORG, CONSOLE_USER, CONSOLE_PASSWORD, MEMBER_USER and MEMBER_PASSWORD are required",
);
const HERE = dirname(fileURLToPath(import.meta.url));

// The person the identity provider knows and SCIM provisions.
const PERSON = "dana.scully@acme.example";
const GROUP = "scimitar-admins";
const CLIENT_ID = "scimitar-browser-test";
const CLIENT_SECRET = `browser-test-secret-${randomBytes(16).toString("hex")}`;
const SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User";
const SCIM_GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group";
const PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

mkdirSync(OUT, { recursive: true });

function step(text) { console.log(`- ${text}`); }
let shots = 0;
const FIRST_SHOT = Number(process.env.FIRST_SHOT ?? 1);
async function shot(page, name) {
  const file = join(OUT, `${String(FIRST_SHOT + shots).padStart(2, "0")}-sso-${name}.png`);
  shots += 1;
  await page.screenshot({ path: file, fullPage: true });
  console.log(`  screenshot ${file}`);
}

/// Starts tests/oidc/provider.mjs on loopback; resolves to its issuer.
async function startProvider() {
  const child = spawn(process.execPath, ["provider.mjs"], {
    cwd: join(HERE, "..", "oidc"),
    env: {
      ...process.env,
      CLIENT_ID,
      CLIENT_SECRET,
      REDIRECT_URI: `${BASE}/api/v1/auth/sso/callback`,
    },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const lines = createInterface({ input: child.stdout });
  const issuer = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the test provider did not start within 60 s")), 60_000);
    child.once("exit", (code) => reject(new Error(`the test provider exited (${code})`)));
    lines.once("line", (line) => { clearTimeout(timer); resolve(JSON.parse(line).issuer); });
  });
  return { child, issuer };
}

async function control(issuer, what, body) {
  const r = await fetch(`${issuer}/control/${what}`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.ok(r.ok, `control ${what}: ${r.status}`);
}

async function scim(token, method, path, body) {
  const r = await fetch(`${BASE}/scim/v2${path}`, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      accept: "application/scim+json",
      ...(body ? { "content-type": "application/scim+json" } : {}),
    },
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await r.text();
  return { status: r.status, body: text ? JSON.parse(text) : null, text };
}

/// Watches a page: console errors and failed assets on scimitar's pages,
/// and requests to anything but scimitar and the provider.
function watch(page, issuer, problems) {
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith(BASE) && !u.startsWith(issuer) && !u.startsWith("data:")) problems.push(`outside request: ${u}`);
  });
  page.on("console", (m) => {
    if (m.type() === "error" && !m.text().startsWith("Failed to load resource")) problems.push(`console error: ${m.text()}`);
  });
  page.on("response", (r) => {
    if (r.request().resourceType() !== "document" && r.status() >= 400) problems.push(`asset failed: ${r.status()} ${r.url()}`);
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
}

async function passwordSignIn(page, user, password) {
  await page.goto(`${BASE}/console/sign-in`);
  await page.locator("#organization").fill(ORG);
  await page.getByLabel("User name").fill(user);
  await page.getByLabel("Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
}

/// "Sign in with your identity provider", up to the provider's login form
/// or (when the provider remembers the person) straight back.
async function startSso(page) {
  await page.goto(`${BASE}/console/sign-in`);
  await page.locator("#sso_organization").fill(ORG);
  await page.getByRole("button", { name: "Sign in with your identity provider" }).click();
  await page.getByRole("heading", { name: "Sign in with your identity provider" }).waitFor();
}

const { child: provider, issuer } = await startProvider();
const browser = await chromium.launch({
  executablePath: CHROMIUM,
  headless: true,
  args: [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
  ],
});
const problems = [];
let current = null;
try {
  console.log(`test OpenID provider at ${issuer}`);
  await control(issuer, "account", {
    sub: PERSON,
    email: PERSON,
    email_verified: true,
    preferred_username: PERSON,
    name: "Dana Scully",
  });

  // ------------------------------------------------------------ the admin
  const adminContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const admin = await adminContext.newPage();
  current = admin;
  watch(admin, issuer, problems);

  step("the admin signs in with a password and opens the Single sign-on page");
  await passwordSignIn(admin, ADMIN, ADMIN_PASSWORD);
  await admin.getByRole("heading", { name: "Service Access Tokens" }).waitFor();
  await admin.getByRole("link", { name: "Single sign-on" }).click();
  await admin.getByRole("heading", { name: "Single sign-on", exact: true }).waitFor();
  await admin.getByText("Single sign-on is not configured").waitFor();
  assert.equal(await admin.locator("#redirect-uri").innerText(), `${BASE}/api/v1/auth/sso/callback`);
  await shot(admin, "not-configured");

  step("an issuer that does not answer is refused, the form shown again with the reason");
  await admin.getByLabel("Issuer URL").fill("http://127.0.0.1:9/nobody");
  await admin.getByLabel("Client id").fill(CLIENT_ID);
  await admin.getByLabel("Client secret").fill(CLIENT_SECRET);
  await admin.getByLabel("Claim that names the member").selectOption("email");
  await admin.getByRole("button", { name: "Configure single sign-on" }).click();
  await admin.locator("#form-error").filter({ hasText: "discovery document" }).waitFor();
  assert.equal(await admin.getByLabel("Issuer URL").inputValue(), "http://127.0.0.1:9/nobody");
  assert.equal(await admin.getByLabel("Client secret").inputValue(), "", "the secret is not sent back");
  assert.ok(!(await admin.content()).includes(CLIENT_SECRET));
  await shot(admin, "issuer-refused");

  step("the admin configures the test provider");
  await admin.getByLabel("Issuer URL").fill(issuer);
  await admin.getByLabel("Client secret").fill(CLIENT_SECRET);
  await admin.getByLabel("Every member may still use a password").check();
  await shot(admin, "configure");
  await admin.getByRole("button", { name: "Configure single sign-on" }).click();
  await admin.getByText("The single sign-on configuration was saved.").waitFor();
  const summary = await admin.locator("#sso-configuration").innerText();
  assert.ok(summary.includes(issuer) && summary.includes(CLIENT_ID) && summary.includes("********"), summary);
  assert.ok(!(await admin.content()).includes(CLIENT_SECRET), "the secret is never shown");
  await shot(admin, "configured");

  step("the admin generates the SAT the identity provider provisions with");
  await admin.getByRole("link", { name: "Service Access Tokens" }).click();
  await admin.getByRole("link", { name: "Generate new token" }).click();
  await admin.getByLabel("Name").fill("okta scim");
  await admin.getByLabel("scim:read").check();
  await admin.getByLabel("scim:write").check();
  await admin.getByRole("button", { name: "Generate token" }).click();
  await admin.getByRole("heading", { name: "Token created" }).waitFor();
  const sat = await admin.getByLabel("Token value").inputValue();
  assert.match(sat, /^scim_sat_/);
  await shot(admin, "scim-token");

  // ------------------------------------------------------ SCIM, as Okta
  step("SCIM provisions the person as Okta does: look up by userName, then POST /Users");
  let r = await scim(sat, "GET", `/Users?filter=${encodeURIComponent(`userName eq "${PERSON}"`)}&startIndex=1&count=100`);
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.totalResults, 0);
  r = await scim(sat, "POST", "/Users", {
    schemas: [SCIM_USER],
    userName: PERSON,
    name: { givenName: "Dana", familyName: "Scully" },
    emails: [{ primary: true, value: PERSON, type: "work" }],
    displayName: "Dana Scully",
    locale: "en-US",
    externalId: "00u1dana",
    groups: [],
    active: true,
  });
  assert.equal(r.status, 201, r.text);
  const personId = r.body.id;

  step("SCIM pushes the group: POST /Groups, then PATCH its members");
  r = await scim(sat, "POST", "/Groups", { schemas: [SCIM_GROUP], displayName: GROUP, members: [] });
  assert.equal(r.status, 201, r.text);
  const groupId = r.body.id;
  r = await scim(sat, "PATCH", `/Groups/${groupId}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: "add", path: "members", value: [{ value: personId, display: PERSON }] }],
  });
  assert.ok(r.status === 200 || r.status === 204, r.text);

  step("the admin maps the group to the admin role");
  await admin.getByRole("link", { name: "Group mappings" }).click();
  await admin.getByRole("heading", { name: "Group mappings" }).waitFor();
  await admin.getByLabel("Group", { exact: true }).selectOption({ label: GROUP });
  await admin.getByLabel("The admin role").check();
  await shot(admin, "map-group");
  await admin.getByRole("button", { name: "Map group" }).click();
  await admin.getByText("The group was mapped.").waitFor();
  await admin.locator("tr", { hasText: GROUP }).getByText("admin", { exact: true }).waitFor();
  await shot(admin, "group-mapped");

  // --------------------------------------------- the person, through SSO
  const personContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const person = await personContext.newPage();
  current = person;
  watch(person, issuer, problems);

  step("in a fresh browser, the person chooses Sign in with your identity provider");
  await startSso(person);
  await shot(person, "continue");
  await person.getByRole("link", { name: "Continue to your identity provider" }).click();
  await person.getByRole("heading", { name: "Test identity provider" }).waitFor();
  assert.ok(person.url().startsWith(issuer), person.url());
  await person.getByLabel("Email").fill(PERSON);
  await shot(person, "provider-login");
  await person.getByRole("button", { name: "Sign in" }).click();

  step("back from the provider, the person is in the console");
  await person.getByRole("heading", { name: "Service Access Tokens" }).waitFor();
  assert.equal(new URL(person.url()).pathname, "/console/tokens");
  assert.ok((await person.locator(".who").innerText()).includes(PERSON));
  await shot(person, "signed-in");

  step("the person generates a SAT, sees its value once, and finds it in the list");
  await person.getByRole("link", { name: "Generate new token" }).click();
  await person.getByLabel("Name").fill("dana's audit reader");
  await person.getByLabel("audit_logs:read").check();
  await shot(person, "generate-token");
  await person.getByRole("button", { name: "Generate token" }).click();
  await person.getByRole("heading", { name: "Token created" }).waitFor();
  await person.getByText("It will not be shown again").waitFor();
  const danaToken = await person.getByLabel("Token value").inputValue();
  assert.match(danaToken, /^scim_sat_/);
  await shot(person, "token-created");
  await person.getByRole("link", { name: /back to Service Access Tokens/ }).click();
  await person.locator("tr", { hasText: "dana's audit reader" }).first().waitFor();
  assert.ok(!(await person.content()).includes(danaToken), "the value is shown once");
  await shot(person, "token-list");

  step("the person signs out");
  await person.getByRole("button", { name: "Sign out" }).click();
  await person.getByText("You have signed out.").waitFor();
  await shot(person, "signed-out");
  await person.goto(`${BASE}/console/tokens`);
  assert.equal(new URL(person.url()).pathname, "/console/sign-in");

  step("the person signs in again (the provider remembers them)");
  await startSso(person);
  await person.getByRole("link", { name: "Continue to your identity provider" }).click();
  const form = person.getByRole("heading", { name: "Test identity provider" });
  const tokens = person.getByRole("heading", { name: "Service Access Tokens" });
  await form.or(tokens).waitFor();
  if (await form.isVisible()) {
    await person.getByLabel("Email").fill(PERSON);
    await person.getByRole("button", { name: "Sign in" }).click();
  }
  await tokens.waitFor();
  await shot(person, "signed-in-again");

  step("SCIM deactivates the person (PATCH active=false, as Okta does)");
  r = await scim(sat, "PATCH", `/Users/${personId}`, {
    schemas: [PATCH_OP],
    Operations: [{ op: "replace", value: { active: false } }],
  });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.body.active, false);

  step("their next console request is refused: back to sign-in");
  await person.goto(`${BASE}/console/tokens`);
  assert.equal(new URL(person.url()).pathname, "/console/sign-in");
  await person.getByText("Your session has expired. Sign in again.").waitFor();
  await shot(person, "deactivated-refused");

  step("and the identity provider no longer signs them in");
  await startSso(person);
  await person.getByRole("link", { name: "Continue to your identity provider" }).click();
  const refused = person.getByRole("heading", { name: "Sign-in refused" });
  await form.or(refused).waitFor();
  if (await form.isVisible()) {
    await person.getByLabel("Email").fill(PERSON);
    await person.getByRole("button", { name: "Sign in" }).click();
  }
  await refused.waitFor();
  await person.getByText("you have no active account in this organization").waitFor();
  assert.equal(await person.locator("p.muted code").innerText(), "inactive");
  await shot(person, "sso-refused-inactive");
  await personContext.close();

  // ----------------------------------------------- break_glass_only
  current = admin;
  step("the admin allows passwords to break-glass members only");
  await admin.goto(`${BASE}/console/sso`);
  await admin.getByLabel("Only break-glass members (marked with the CLI) may use a password").check();
  await admin.getByRole("button", { name: "Save changes" }).click();
  await admin.getByText("The single sign-on configuration was saved.").waitFor();
  assert.ok((await admin.locator("#sso-configuration").innerText()).includes("break_glass_only"));
  await shot(admin, "break-glass-only");
  await adminContext.close();

  const otherContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
  const other = await otherContext.newPage();
  current = other;
  watch(other, issuer, problems);

  step("a normal member's right password is refused in the console");
  await passwordSignIn(other, MEMBER, MEMBER_PASSWORD);
  await other.locator("#form-error").filter({ hasText: "signs in through its identity provider" }).waitFor();
  await shot(other, "member-password-refused");
  await other.goto(`${BASE}/console/tokens`);
  assert.equal(new URL(other.url()).pathname, "/console/sign-in");

  step("the break-glass admin's password still signs in, recorded as auth.break_glass");
  await passwordSignIn(other, ADMIN, ADMIN_PASSWORD);
  await other.getByRole("heading", { name: "Service Access Tokens" }).waitFor();
  await other.goto(`${BASE}/console/audit-logs?action=auth.*`);
  await other.locator("tr[data-action='auth.break_glass']").first().waitFor();
  const actions = await other.locator("tbody tr").evaluateAll((rows) => rows.map((row) => row.dataset.action));
  assert.ok(actions.includes("auth.sso"), actions.join(", "));
  await shot(other, "audit-break-glass");
  await otherContext.close();

  assert.deepEqual(problems, [], problems.join("\n"));
  console.log(`SSO browser test passed (${shots} screenshots in ${OUT})`);
} catch (e) {
  if (current) await shot(current, "failure").catch(() => {});
  console.error(problems.join("\n"));
  throw e;
} finally {
  await browser.close();
  provider.kill();
}
