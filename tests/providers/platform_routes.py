"""The list calls of :mod:`tests.providers.platforms`, as the platforms document them."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from aiohttp import web

from tests.providers.platforms import TOKEN, basic_ok, bearer_ok, page_json, since_ok

if TYPE_CHECKING:
    from tests.providers.platforms import Handler, Platforms

JWT = "jwt-0a1b2c"


def _int(request: web.Request, key: str, default: int) -> int:
    v = request.query.get(key, "")
    return int(v) if v.isdigit() else default


def routes(p: Platforms) -> list[tuple[str, str, Handler]]:
    async def github_runs(request: web.Request) -> web.Response:
        if not bearer_ok(request):
            return page_json({"message": "Bad credentials"}, 401)
        q = request.query
        runs = sorted(p.github, key=lambda r: r["created_at"], reverse=True)
        runs = [r for r in runs if all(r.get(k) == q[k] for k in ("branch", "event") if k in q)]
        size, page = min(_int(request, "per_page", 30), 100), _int(request, "page", 1)
        chunk = runs[(page - 1) * size:page * size]
        headers = {"X-RateLimit-Remaining": "4999"}
        if page * size < len(runs):
            headers["Link"] = (f'<{p.url}{request.path}?per_page={size}&page={page + 1}>; '
                               f'rel="next", <{p.url}{request.path}?page=1>; rel="first"')
        return page_json({"total_count": len(runs), "workflow_runs": chunk}, headers=headers,
                         request=request, etag=True)

    async def github_run(request: web.Request) -> web.Response:
        if not bearer_ok(request):
            return page_json({"message": "Bad credentials"}, 401)
        for r in p.github:
            if str(r["id"]) == request.match_info["id"]:
                return page_json(r)
        return page_json({"message": "Not Found"}, 404)

    async def gitlab_pipelines(request: web.Request) -> web.Response:
        if request.headers.get("PRIVATE-TOKEN") != TOKEN:
            return page_json({"message": "401 Unauthorized"}, 401)
        since = request.query.get("updated_after")
        runs = sorted((r for r in p.gitlab if since_ok(r["updated_at"], since)),
                      key=lambda r: (r["updated_at"], r["id"]))
        size, page = _int(request, "per_page", 20), _int(request, "page", 1)
        more = page * size < len(runs)
        return page_json(runs[(page - 1) * size:page * size],
                         headers={"X-Next-Page": str(page + 1) if more else "",
                                  "X-Page": str(page)})

    async def dag_runs(request: web.Request) -> web.Response:
        version = request.match_info["version"]
        ok = basic_ok(request, "admin", "pw") if version == "v1" else request.headers.get(
            "Authorization") in (f"Bearer {TOKEN}", f"Bearer {JWT}")
        if not ok:
            return page_json({"detail": "Not authenticated"}, 401)
        since, dag = request.query.get("updated_at_gte"), request.match_info["dag"]
        runs = [r for r in p.airflow if since_ok(r["_updated"], since)
                and dag in ("~", r["dag_id"])]
        limit, offset = _int(request, "limit", 50), _int(request, "offset", 0)
        shown = [{k: v for k, v in r.items() if k != "_updated"}
                 for r in runs[offset:offset + limit]]
        return page_json({"dag_runs": shown, "total_entries": len(runs)})

    async def airflow_token(request: web.Request) -> web.Response:
        body = await request.json()
        if body != {"username": "admin", "password": "pw"}:
            return page_json({"detail": "Invalid credentials"}, 401)
        return page_json({"access_token": JWT}, 201)

    async def prefect_filter(request: web.Request) -> web.Response:
        body: dict[str, Any] = await request.json()
        f = body.get("flow_runs") or {}
        types = ((f.get("state") or {}).get("type") or {}).get("any_")
        after = (f.get("end_time") or {}).get("after_")
        # a hostile item (a state that is no string) is in every answer
        runs = [r for r in p.prefect if (types is None or r["state_type"] in types
                                         or not isinstance(r["state_type"], str))
                and (after is None or (r["end_time"] and since_ok(r["end_time"], after)))]
        offset, limit = int(body.get("offset", 0)), int(body.get("limit", 200))
        return page_json(runs[offset:offset + limit])

    async def generic(request: web.Request) -> web.Response:
        if request.headers.get("X-Api-Key") != TOKEN:
            return page_json({"error": "invalid api key"}, 401)
        runs = sorted(p.generic, key=lambda r: r.get("updated", 0)
                      if isinstance(r, dict) and isinstance(r.get("updated"), int) else 0,
                      reverse=True)
        q, size = request.query, _int(request, "limit", 10)
        start = (_int(request, "page", 1) - 1) * size if "page" in q else \
            _int(request, "offset", 0) if "offset" in q else \
            int(q["cursor"][1:]) if q.get("cursor", "").startswith("c") else 0
        end = start + size
        more = end < len(runs)
        headers = {"Link": f'<{p.url}/api/runs?limit={size}&offset={end}>; rel="next"'} \
            if more else {}
        return page_json({"data": runs[start:end], "next": f"c{end}" if more else None},
                         headers=headers)

    return [("GET", "/repos/{owner}/{repo}/actions/runs", github_runs),
            ("GET", "/repos/{owner}/{repo}/actions/runs/{id}", github_run),
            ("GET", "/api/v4/projects/{project}/pipelines", gitlab_pipelines),
            ("GET", "/api/{version}/dags/{dag}/dagRuns", dag_runs),
            ("POST", "/auth/token", airflow_token),
            ("POST", "/api/flow_runs/filter", prefect_filter),
            ("GET", "/api/runs", generic)]
