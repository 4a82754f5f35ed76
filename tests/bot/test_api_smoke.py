from tests.support.servers import AGENT_KEY, auth


async def test_create_and_get(app):
    resp = await app.client.post("/v1/approvals", json={"action": "deploy"}, headers=auth(AGENT_KEY))
    assert resp.status == 201
    body = await resp.json()
    resp = await app.client.get(f"/v1/approvals/{body['id']}", headers=auth(AGENT_KEY))
    assert (await resp.json())["status"] == "pending"
