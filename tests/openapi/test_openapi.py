"""/api/v1/openapi.json, as served by the running binary, is a valid OpenAPI 3 document that
describes every route the issue names."""

import requests
import urllib3
from openapi_spec_validator import validate

urllib3.disable_warnings()


def test_served_document_validates(gatehouse):
    r = requests.get(gatehouse.url("/api/v1/openapi.json"), verify=False, timeout=10)
    assert r.status_code == 200
    doc = r.json()
    assert doc["openapi"].startswith("3.")
    validate(doc)  # raises on any violation of the OpenAPI 3.x schema
    paths = doc["paths"]
    for path, method in [
        ("/api/v1/setup", "post"),
        ("/api/v1/session", "post"),
        ("/api/v1/session", "delete"),
        ("/api/v1/accounts", "post"),
        ("/api/v1/accounts/{username}", "patch"),
        ("/api/v1/sessions", "get"),
        ("/api/v1/audit", "get"),
        ("/api/v1/company", "put"),
        ("/api/v1/company/logo", "put"),
        ("/api/v1/certificate", "put"),
        ("/api/v1/system/backup", "get"),
        ("/api/v1/password-reset", "post"),
        ("/api/v1/departments", "post"),
        ("/api/v1/persons", "get"),
        ("/api/v1/persons/{id}", "patch"),
        ("/api/v1/card-settings", "put"),
        ("/api/v1/persons/import", "post"),
        ("/api/v1/person-collection", "get"),
        ("/api/v1/organization", "get"),
        ("/api/v1/organization/batch", "post"),
        ("/api/v1/devices", "post"),
        ("/api/v1/registrations", "post"),
        ("/api/v1/call-groups", "post"),
        ("/api/v1/notices", "post"),
        ("/api/v1/records/calls", "get"),
        ("/api/v1/records/calls/missed", "get"),
        ("/api/v1/sip/registrations", "get"),
        ("/api/v1/sip/calls", "get"),
    ]:
        assert method in paths.get(path, {}), f"{method.upper()} {path} is not documented"
    assert "ErrorBody" in doc["components"]["schemas"]
