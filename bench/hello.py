"""A bare aiohttp hello-world, served the same way as Countersign, as the throughput yardstick."""

import sys

from aiohttp import web

from bot.cli.server import new_event_loop


async def hello(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"hello": "world"}, status=201)


app = web.Application()
app.router.add_post("/v1/approvals", hello)
# Served exactly as `countersign serve` serves: same run_app call, same event loop (uvloop when installed).
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None, loop=new_event_loop())
