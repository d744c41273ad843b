"""The design's usage snippets (/work/shared/seed-design.md), as written there, against batchd.

Each test body below is a snippet copied unchanged, except the import line (`from batchd
import ...` instead of `from victor.native.rust.batch_processor import ...`); the functions and
objects a snippet calls but does not define are defined just before it. The processor the
snippets construct without a target reaches the test daemon through $BATCHD_ADDR.
"""


import pytest

from batchd import (BatchProcessor, BatchResult, BatchTask, calculate_optimal_batch_size_py,
                    create_task_batches_py, estimate_batch_duration_py,
                    merge_batch_summaries_py)


def test_basic_usage(address, capsys):
    # ---- design: Basic Usage --------------------------------------------------------------
    # Create batch processor
    processor = BatchProcessor(
        max_concurrent=10,
        timeout_ms=30000,
        retry_policy="exponential",
        aggregation_strategy="unordered"
    )

    # Create tasks
    def my_task(task_dict):
        # Task logic here
        return f"Result for {task_dict['task_id']}"

    tasks = [
        BatchTask(
            task_id="task1",
            task_data=my_task,
            priority=1.0,
            timeout_ms=5000
        ),
        BatchTask(
            task_id="task2",
            task_data=my_task,
            priority=0.5
        )
    ]

    # Process batch
    summary = processor.process_batch(tasks, my_task)
    print(f"Completed: {summary.successful_count}/{len(summary.results)}")
    print(f"Throughput: {summary.throughput_per_second:.2f} tasks/sec")
    print(f"Success rate: {summary.success_rate():.1f}%")
    # ----------------------------------------------------------------------------------------
    out = capsys.readouterr().out
    assert "Completed: 2/2" in out and "Success rate: 100.0%" in out
    assert {r.result for r in summary.results} == {"Result for task1", "Result for task2"}


@pytest.fixture
def processor(address):
    p = BatchProcessor()
    yield p
    p.close()


def test_dependency_management(processor, capsys):
    ran = []

    def compile_code(task):
        ran.append("compile")

    def run_tests(task):
        ran.append("test")

    def deploy_app(task):
        ran.append("deploy")

    # ---- design: Dependency Management ------------------------------------------------------
    # Create tasks with dependencies
    tasks = [
        BatchTask(task_id="compile", task_data=compile_code, priority=1.0),
        BatchTask(
            task_id="test",
            task_data=run_tests,
            priority=0.8,
            dependencies=["compile"]  # Requires compile to complete first
        ),
        BatchTask(
            task_id="deploy",
            task_data=deploy_app,
            priority=0.6,
            dependencies=["test"]  # Requires tests to pass first
        ),
    ]

    # Resolve execution order
    layers = processor.resolve_execution_order(tasks)
    print(f"Execution layers: {layers}")
    # Output: [['compile'], ['test'], ['deploy']]
    # ----------------------------------------------------------------------------------------
    assert "Execution layers: [['compile'], ['test'], ['deploy']]" in capsys.readouterr().out
    summary = processor.process_batch(tasks, None)
    assert summary.successful_count == 3 and ran == ["compile", "test", "deploy"]


def test_streaming_results(processor, capsys):
    tasks = [BatchTask("ok", 1), BatchTask("bad", 2)]

    def my_executor(task):
        if task["task_id"] == "bad":
            raise ValueError("bad input")
        return task["task_data"] * 10

    # ---- design: Streaming Results ----------------------------------------------------------
    def result_callback(result):
        if result.success:
            print(f"✓ {result.task_id}: {result.result}")
        else:
            print(f"✗ {result.task_id}: {result.error}")

    summary = processor.process_batch_streaming(
        tasks,
        executor=my_executor,
        callback=result_callback
    )
    # ----------------------------------------------------------------------------------------
    out = capsys.readouterr().out
    assert "✓ ok: 10" in out
    # The exception's retries (exponential: 1 s, 2 s, 4 s) run on the daemon's timers.
    assert "✗ bad: ValueError: bad input" in out
    assert summary.failed_count == 1


def test_load_balancing(processor, capsys):
    tasks = [BatchTask(f"t{i}", None, priority=i / 10) for i in range(10)]
    # ---- design: Load Balancing -------------------------------------------------------------
    # Set load balancing strategy
    processor.set_load_balancer("least_loaded")

    # Assign tasks to workers
    assignments = processor.assign_tasks(tasks, workers=4)
    print(f"Worker assignments: {[len(a) for a in assignments]}")
    # ----------------------------------------------------------------------------------------
    assert "Worker assignments: [3, 3, 2, 2]" in capsys.readouterr().out


def test_use_case_parallel_tool_execution(processor):
    def execute_tool(task):
        return f"ran {task['task_id']}"

    def tool_executor(task):
        return task["task_data"](task)

    # ---- design: 1. Parallel Tool Execution in Agents ---------------------------------------
    # Execute multiple tools in parallel
    tools = ["read_file", "search_code", "analyze_ast"]
    tasks = [
        BatchTask(task_id=tool, task_data=execute_tool, priority=1.0)
        for tool in tools
    ]

    summary = processor.process_batch(tasks, tool_executor)
    # ----------------------------------------------------------------------------------------
    assert sorted(r.result for r in summary.results) == [
        "ran analyze_ast", "ran read_file", "ran search_code"]


def test_use_case_batch_file_processing(processor):
    def process_file(f):
        return f"processed {f}"

    def file_processor(task):
        return task["task_data"](task["task_id"])

    # ---- design: 2. Batch File Processing ---------------------------------------------------
    # Process multiple files in parallel
    files = ["file1.py", "file2.py", "file3.py"]
    tasks = [
        BatchTask(
            task_id=file,
            task_data=lambda f: process_file(f),
            priority=1.0
        )
        for file in files
    ]

    summary = processor.process_batch(tasks, file_processor)
    # ----------------------------------------------------------------------------------------
    assert {r.task_id: r.result for r in summary.results} == {
        f: f"processed {f}" for f in ["file1.py", "file2.py", "file3.py"]}


def test_use_case_multi_agent_team(processor):
    class Agent:
        def __init__(self, role):
            self.role = role

        def run(self, task):
            return {"role": self.role, "inputs": sorted(task["dependency_results"])}

    research_agent, writer_agent, reviewer_agent = (Agent("research"), Agent("write"),
                                                    Agent("review"))

    def agent_executor(task):
        return task["task_data"](task)

    # ---- design: 3. Multi-Agent Team Coordination -------------------------------------------
    # Coordinate multiple agents with dependencies
    agents = {
        "researcher": BatchTask(
            task_id="research",
            task_data=research_agent.run,
            priority=1.0
        ),
        "writer": BatchTask(
            task_id="write",
            task_data=writer_agent.run,
            priority=0.8,
            dependencies=["research"]
        ),
        "reviewer": BatchTask(
            task_id="review",
            task_data=reviewer_agent.run,
            priority=0.6,
            dependencies=["write"]
        ),
    }

    summary = processor.process_batch(list(agents.values()), agent_executor)
    # ----------------------------------------------------------------------------------------
    results = {r.task_id: r.result for r in summary.results}
    assert results["review"] == {"role": "review", "inputs": ["write"]}


def test_use_case_parallel_api_calls(processor):
    endpoints = ["/a", "/b", "/c"]

    def make_api_call(endpoint):
        return {"endpoint": endpoint}

    def api_executor(task):
        return task["task_data"]()

    # ---- design: 4. Parallel API Calls ------------------------------------------------------
    # Make parallel API calls with rate limiting
    api_calls = [
        BatchTask(
            task_id=f"call_{i}",
            task_data=lambda: make_api_call(endpoint),
            priority=1.0,
            timeout_ms=5000
        )
        for i, endpoint in enumerate(endpoints)
    ]

    summary = processor.process_batch(api_calls, api_executor)
    # ----------------------------------------------------------------------------------------
    assert summary.successful_count == 3
    # As in any Python, the lambdas share the comprehension's last `endpoint`.
    assert {r.result["endpoint"] for r in summary.results} == {"/c"}


def test_use_case_batch_embedding_generation(processor):
    def generate_embedding(t):
        return [float(len(str(t)))]

    def embedding_generator(task):
        return task["task_data"](task["task_id"])

    # ---- design: 5. Batch Embedding Generation ----------------------------------------------
    # Generate embeddings for multiple texts
    texts = ["text1", "text2", "text3", ...]
    tasks = [
        BatchTask(
            task_id=f"embed_{i}",
            task_data=lambda t: generate_embedding(t),
            priority=1.0
        )
        for i, text in enumerate(texts)
    ]

    summary = processor.process_batch(tasks, embedding_generator)
    # ----------------------------------------------------------------------------------------
    assert summary.successful_count == 4
    assert {r.result[0] for r in summary.results} == {7.0}


def test_optimization_tips(address, capsys):
    def quick_fn(task):
        return "quick"

    def slow_fn(task):
        return "slow"

    critical_fn = background_fn = stage1_fn = stage2_fn = stage3_fn = quick_fn

    # ---- design: 1. Choose the Right Concurrency Level --------------------------------------
    # For CPU-bound tasks: use number of cores
    import os
    processor = BatchProcessor(max_concurrent=os.cpu_count())

    # For I/O-bound tasks: use higher concurrency
    processor = BatchProcessor(max_concurrent=50)
    # ---- design: 2. Set Appropriate Timeouts ------------------------------------------------
    # Set timeouts based on task complexity
    quick_tasks = BatchTask(task_id="quick", task_data=quick_fn, timeout_ms=1000)
    slow_tasks = BatchTask(task_id="slow", task_data=slow_fn, timeout_ms=30000)
    # ---- design: 3. Use Priority for Important Tasks ----------------------------------------
    # Higher priority tasks may be processed first
    critical_task = BatchTask(task_id="critical", task_data=critical_fn, priority=1.0)
    background_task = BatchTask(task_id="background", task_data=background_fn, priority=0.1)
    # ----------------------------------------------------------------------------------------
    large_batch = [quick_tasks, slow_tasks, critical_task, background_task]

    def executor(task):
        return task["task_data"](task)

    # ---- design: 4. Leverage Streaming for Large Batches ------------------------------------
    # Stream results for better user feedback
    summary = processor.process_batch_streaming(
        large_batch,
        executor,
        callback=lambda r: print(f"Completed: {r.task_id}")
    )
    # ---- design: 5. Use Dependencies for Sequential Stages ----------------------------------
    # Define multi-stage pipelines
    pipeline = [
        BatchTask(task_id="stage1", task_data=stage1_fn, priority=1.0),
        BatchTask(task_id="stage2", task_data=stage2_fn, priority=0.9, dependencies=["stage1"]),
        BatchTask(task_id="stage3", task_data=stage3_fn, priority=0.8, dependencies=["stage2"]),
    ]
    # ----------------------------------------------------------------------------------------
    out = capsys.readouterr().out
    assert all(f"Completed: {t}" in out for t in ["quick", "slow", "critical", "background"])
    assert summary.successful_count == 4
    assert processor.resolve_execution_order(pipeline) == [["stage1"], ["stage2"], ["stage3"]]
    processor.close()


def test_error_handling(address, capsys):
    # ---- design: Timeout Errors -------------------------------------------------------------
    # Timeout errors are marked as failed and not retried
    result = BatchResult(
        task_id="timeout_task",
        success=False,
        error="Timeout after 5000ms",
        duration_ms=5000.0
    )
    # ---- design: Execution Errors -----------------------------------------------------------
    # Execution errors are retried based on policy
    processor = BatchProcessor(retry_policy="exponential")
    # Retry with exponential backoff: 1000ms, 2000ms, 4000ms
    # ----------------------------------------------------------------------------------------
    assert (result.success, result.retry_count) == (False, 0)
    tasks = [BatchTask("a", None, dependencies=["b"]), BatchTask("b", None, dependencies=["a"])]

    def executor(task):
        return None

    # ---- design: Dependency Errors ----------------------------------------------------------
    # Dependency errors fail the entire batch
    try:
        summary = processor.process_batch(tasks, executor)
    except ValueError as e:
        if "Circular dependency" in str(e):
            print("Invalid task dependencies!")
    # ----------------------------------------------------------------------------------------
    assert "Invalid task dependencies!" in capsys.readouterr().out
    processor.close()


def test_api_reference_signatures(address):
    processor = BatchProcessor(max_concurrent=10, timeout_ms=30000, retry_policy="exponential",
                               aggregation_strategy="unordered")
    tasks = [BatchTask(f"t{i}", i) for i in range(5)]
    summary = processor.process_batch(tasks, lambda task: task["task_data"])
    assert processor.get_progress().completed_tasks == 5
    batches = create_task_batches_py(tasks, 2)
    assert [len(b) for b in batches] == [2, 2, 1]
    merged = merge_batch_summaries_py([summary, summary])
    assert len(merged.results) == 10 and merged.successful_count == 10
    assert calculate_optimal_batch_size_py(100, 10, min_batch_size=1) == 10
    assert estimate_batch_duration_py(20, 50.0, 10) == 100.0
    processor.close()
