"""Where the API lives. Routers declare their full paths from this prefix (they are included
without one), so the route a request matched, as logs and metrics name it, is the path the
client called: `/api/v1/tracks/{track_id}`."""

API_PREFIX = "/api/v1"
DOCS_URL = f"{API_PREFIX}/docs"
OPENAPI_URL = f"{API_PREFIX}/openapi.json"
