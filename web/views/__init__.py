"""The nurses' web app: server-rendered pages over the same services and selectors as the
API. Views parse, call one service, and render; every number shown comes from the
calculation core through them. Data is scoped like the API: another clinic's pump, clinic,
appointment or alert answers 404."""
