"""Property-based requests generated from the service's own OpenAPI page: never a 5xx.

Schemathesis builds requests for every operation of BentoML's /docs.json (valid and invalid
bodies, odd media types); a bounded number per operation keeps it fast.
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from serving.launch import ServerProcess as Server

from .helpers import API_KEY

EXAMPLES = 6  # generated requests per operation (bounded: the suite shares two cores)


def test_no_server_error_for_any_generated_request(server: Server) -> None:
    schema = schemathesis.openapi.from_url(server.url + "/docs.json")
    # /reload takes no input and reloads every model (seconds): test_service covers it
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.path for op in operations} >= {"/predict", "/ingest", "/signals", "/reload"}
    operations = [op for op in operations if op.path != "/reload"]
    seen: list[int] = []
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
        def no_5xx(case) -> None:
            response = case.call(base_url=server.url, headers={"x-api-key": API_KEY})
            seen.append(response.status_code)
            assert response.status_code < 500, (case.method, case.path, response.text[:300])

        no_5xx()
    assert any(status >= 400 for status in seen)  # invalid requests were generated too
