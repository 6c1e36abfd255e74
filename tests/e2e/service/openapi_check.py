#!/usr/bin/python3
# Checks docs/openapi.json against a running `hsmctl serve` (tests/e2e/service/openapi_test.cpp):
# (1) the document is OpenAPI 3.1 in shape (required members, operations with responses, path
# parameters declared, every $ref resolves, every schema a valid JSON Schema 2020-12); (2) real
# requests (every /v1 and /csc/v2 operation, successes and refusals) and the service's real
# answers validate against the operation's request and response schemas. Debian's
# python3-jsonschema only (there is no OpenAPI validator in Debian 12). Prints one line per
# problem and "checked N exchanges"; exits 1 on any problem.
#   openapi_check.py PORT CA CERT KEY OPENAPI.json PASSWORD USER (a member of group "ops")
import base64, hashlib, http.client, json, ssl, sys
import jsonschema

port, ca, cert, key, path, password, user = sys.argv[1:8]
doc = json.load(open(path))
problems = []

# ---- (1) the document ----
for member in ("openapi", "info", "paths", "components"):
    if member not in doc: problems.append("no top-level %r" % member)
if not str(doc.get("openapi", "")).startswith("3.1."): problems.append("openapi is not 3.1.x")
for member in ("title", "version"):
    if member not in doc.get("info", {}): problems.append("info has no %r" % member)
resolver = jsonschema.RefResolver.from_schema(doc)
def refs(node, where):
    if isinstance(node, dict):
        if "$ref" in node:
            try: resolver.resolve(node["$ref"])
            except jsonschema.RefResolutionError: problems.append("%s: $ref %s does not resolve" % (where, node["$ref"]))
        for k, v in node.items(): refs(v, where + "/" + k)
    elif isinstance(node, list):
        for i, v in enumerate(node): refs(v, "%s/%d" % (where, i))
refs(doc, "#")
for name, schema in doc["components"]["schemas"].items():
    try: jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as e: problems.append("schema %s: %s" % (name, e.message))
for p, item in doc["paths"].items():
    if not p.startswith("/"): problems.append("path %s does not start with /" % p)
    for method, op in item.items():
        if method not in ("get", "post", "put", "delete", "patch"): problems.append("%s: %s is no method" % (p, method))
        if not op.get("responses"): problems.append("%s %s: no responses" % (p, method))
        for status, r in op.get("responses", {}).items():
            if status != "default" and not (status.isdigit() and len(status) == 3): problems.append("%s %s: status %s" % (p, method, status))
            if "description" not in r: problems.append("%s %s %s: no description" % (p, method, status))
        declared = {q["name"] for q in op.get("parameters", []) if q.get("in") == "path"}
        wanted = {seg[1:-1] for seg in p.split("/") if seg.startswith("{")}
        if declared != wanted: problems.append("%s %s: path parameters %s, declared %s" % (p, method, wanted, declared))

# ---- (2) real exchanges ----
ctx = ssl.create_default_context(cafile=ca)
ctx.minimum_version = ssl.TLSVersion.TLSv1_3
ctx.load_cert_chain(cert, key)
conn = http.client.HTTPSConnection("127.0.0.1", int(port), context=ctx, timeout=60)

def validate(instance, schema, what):
    try: jsonschema.Draft202012Validator(schema, resolver=resolver).validate(instance)
    except jsonschema.ValidationError as e: problems.append("%s: %s" % (what, e.message))

def operation(template, method):
    op = doc["paths"].get(template, {}).get(method)
    if op is None: problems.append("%s %s is not in the document" % (method.upper(), template))
    return op or {}

checked = 0
def exchange(method, template, actual, body=None, want=None, valid_request=True):
    global checked
    op = operation(template, method)
    what = "%s %s" % (method.upper(), actual)
    if body is not None and valid_request:
        schema = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        if schema is None: problems.append(what + ": no request schema")
        else: validate(body, schema, what + " request")
    conn.request(method.upper(), actual, body=None if body is None else json.dumps(body),
                 headers={"Content-Type": "application/json"})
    r = conn.getresponse()
    raw = r.read().decode()
    if want is not None and r.status != want: problems.append("%s: status %d, want %d: %s" % (what, r.status, want, raw[:200]))
    spec = op.get("responses", {}).get(str(r.status)) or op.get("responses", {}).get("default")
    if spec is None:
        problems.append("%s: status %d is not documented" % (what, r.status))
        return None
    ctype = r.getheader("Content-Type", "").split(";")[0]
    content = spec.get("content", {})
    if ctype not in content:
        problems.append("%s: answered %s, documented %s" % (what, ctype, list(content)))
        return None
    answer = json.loads(raw) if ctype == "application/json" else raw
    validate(answer, content[ctype]["schema"], "%s answer %d" % (what, r.status))
    checked += 1
    return answer

exchange("get", "/healthz", "/healthz", want=200)
exchange("get", "/metrics", "/metrics", want=200)
exchange("get", "/v1/transcript/checkpoint", "/v1/transcript/checkpoint", want=200)
exchange("get", "/v1/users/{name}/public-key", "/v1/users/%s/public-key" % user, want=200)
exchange("get", "/v1/users/{name}/public-key", "/v1/users/nobody/public-key", want=404)
sign = "/v1/users/%s/sign" % user
exchange("post", "/v1/users/{name}/sign", sign, {"data": base64.b64encode(b"hello").decode(), "password": password}, 200)
digest = hashlib.sha256(b"hello").hexdigest()
exchange("post", "/v1/users/{name}/sign", sign, {"digest": digest, "digest_alg": "sha256", "password": password}, 200)
exchange("post", "/v1/users/{name}/sign", sign, {"digest": digest[:10], "digest_alg": "sha256", "password": password}, 400)
exchange("post", "/v1/users/{name}/sign", sign, {"data": "aGk=", "password": "guess"}, 401)
exchange("post", "/v1/users/{name}/sign", sign, {"data": "aGk="}, 400, valid_request=False)
exchange("get", "/v1/groups/{name}/public-key", "/v1/groups/ops/public-key", want=200)
exchange("post", "/v1/groups/{name}/sign", "/v1/groups/ops/sign", {"member": user, "data": base64.b64encode(b"hello").decode(), "password": password}, 200)
exchange("post", "/v1/groups/{name}/sign", "/v1/groups/ops/sign", {"member": user, "data": "aGk=", "password": "guess"}, 401)
exchange("post", "/csc/v2/info", "/csc/v2/info", {}, 200)
exchange("post", "/csc/v2/credentials/list", "/csc/v2/credentials/list", {"credentialInfo": True}, 200)
exchange("post", "/csc/v2/credentials/info", "/csc/v2/credentials/info", {"credentialID": user}, 200)
exchange("post", "/csc/v2/credentials/info", "/csc/v2/credentials/info", {"credentialID": "nobody"}, 400)
hashes = [base64.b64encode(hashlib.sha256(m).digest()).decode() for m in (b"a", b"b")]
sha256 = "2.16.840.1.101.3.4.2.1"
a = exchange("post", "/csc/v2/credentials/authorize", "/csc/v2/credentials/authorize",
             {"credentialID": user, "numSignatures": 2, "hashes": hashes, "hashAlgorithmOID": sha256,
              "authData": [{"id": "PIN", "value": password}]}, 200)
exchange("post", "/csc/v2/credentials/authorize", "/csc/v2/credentials/authorize",
         {"credentialID": user, "numSignatures": 1, "hashes": hashes[:1], "hashAlgorithmOID": sha256, "PIN": "guess"}, 400)
sad = (a or {}).get("SAD", "")
body = {"credentialID": user, "SAD": sad, "hashes": hashes, "signAlgo": "1.2.840.10045.4.3.2"}
exchange("post", "/csc/v2/signatures/signHash", "/csc/v2/signatures/signHash", body, 200)
exchange("post", "/csc/v2/signatures/signHash", "/csc/v2/signatures/signHash", body, 400)

for p in problems: print(p)
print("checked %d exchanges" % checked)
sys.exit(1 if problems else 0)
