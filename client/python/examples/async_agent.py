"""An asyncio agent: a planner spawns tool calls, each tool does parallel HTTP calls with
aiohttp, and the answer streams its tokens, all served by one batchd.aio.AsyncWorker.

A tiny local aiohttp server stands in for the tools' APIs (100 ms per call). The planner task
decides which tools to call and adds them to its own batch (``await batchd.aio.spawn``) with an
"answer" task depending on them; it does not wait for them, so it holds no slot. Every
executor is an ``async def`` on this process's event loop: no thread per task. The answer's
partial output is followed with ``async for`` while the batch runs.
"""

import asyncio
from typing import Any, Dict, List

import aiohttp
from aiohttp import web

import batchd
import batchd.aio
from batchd import BatchTask
from batchd.aio import AsyncClient, AsyncWorker

CALL_S = 0.1
TOOLS = {"search": ["paris", "rome", "oslo", "lima"],
         "weather": ["paris", "rome", "oslo", "lima"],
         "news": ["paris", "rome", "oslo", "lima"]}


async def start_api() -> "tuple[web.AppRunner, str, List[str]]":
    """The fake tool APIs: GET /<tool>?q=<city> answers {"tool", "q", "hits"}."""
    served: List[str] = []

    async def tool(request: web.Request) -> web.Response:
        await asyncio.sleep(CALL_S)
        name, query = request.match_info["tool"], request.query["q"]
        served.append(f"{name}:{query}")
        return web.json_response({"tool": name, "q": query, "hits": len(query)})

    app = web.Application()
    app.router.add_get("/{tool}", tool)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    return runner, f"http://127.0.0.1:{port}", served


async def main() -> None:
    runner, api, served = await start_api()
    worker = AsyncWorker(name="async-agent", slots=8)
    http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5))

    @worker.executor("agent-plan")
    async def plan(task: Dict[str, Any]) -> Dict[str, Any]:
        tools = [BatchTask(f"tool-{name}", {"tool": name, "queries": queries},
                           executor="agent-tool", dependencies=[task["task_id"]])
                 for name, queries in TOOLS.items()]
        answer = BatchTask("answer", None, executor="agent-answer",
                           dependencies=[t.task_id for t in tools])
        total = await batchd.aio.spawn(tools + [answer])
        return {"spawned": total - 1}

    @worker.executor("agent-tool")
    async def call_tool(task: Dict[str, Any]) -> Dict[str, Any]:
        name, queries = task["task_data"]["tool"], task["task_data"]["queries"]

        async def get(query: str) -> Dict[str, Any]:
            async with http.get(f"{api}/{name}", params={"q": query}) as response:
                response.raise_for_status()
                return dict(await response.json())

        answers = await asyncio.gather(*(get(q) for q in queries))  # parallel HTTP calls
        return {"tool": name, "hits": [a["hits"] for a in answers]}

    @worker.executor("agent-answer")
    async def write_answer(task: Dict[str, Any]) -> str:
        parts = []
        results = task["dependency_results"]  # decoded as they are read
        for result in sorted(results.values(), key=lambda r: r["tool"]):
            part = f"{result['tool']} found {sum(result['hits'])} hits"
            parts.append(part)
            batchd.output(part + "; ")  # tokens, as an LLM would stream them
            await asyncio.sleep(0.01)
        return ", ".join(parts)

    try:
        async with worker, AsyncClient() as client:
            batch_id = await client.submit([BatchTask("plan", "compare four cities",
                                                      executor="agent-plan")],
                                           max_concurrent=4)
            async for progress in client.watch(batch_id):
                if progress.total_tasks == 5:
                    break
            print(f"planner spawned {progress.total_tasks - 1} tasks")
            stream = client.stream_task_output(batch_id, "answer")
            tokens = [token async for token in stream]
            print(f"streamed {len(tokens)} chunks")
            summary = await client.get(batch_id)
            while summary.state != "succeeded":
                await asyncio.sleep(0.02)
                summary = await client.get(batch_id)
            results = {r.task_id: r.result for r in summary.results}
            for name, queries in TOOLS.items():
                hits = results[f"tool-{name}"]["hits"]
                print(f"{name}: {len(queries)} parallel calls -> {hits}")
            print(f"answer: {results['answer']}")
            print(f"server answered {len(served)} calls")
    finally:
        await http.close()
        await runner.cleanup()


if __name__ == "__main__":
    asyncio.run(main())
