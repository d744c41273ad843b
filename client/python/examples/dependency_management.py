"""Dependency management: a compile -> test -> deploy pipeline with batchd resolving the
order. Each stage receives its predecessors' results (the same Python objects) in
task["dependency_results"]; a cycle is refused before anything runs.
"""

from batchd import BatchProcessor, BatchTask


def compile_code(task):
    return {"artifact": "app.bin", "warnings": 0}


def run_tests(task):
    build = task["dependency_results"]["compile"]
    return {"tested": build["artifact"], "passed": 42, "failed": 0}


def deploy_app(task):
    report = task["dependency_results"]["test"]
    if report["failed"]:
        raise RuntimeError(f"{report['failed']} tests failed")
    return f"deployed {report['tested']}"


def run_stage(task):
    return task["task_data"](task)


def main() -> None:
    processor = BatchProcessor(max_concurrent=4, retry_policy="none")
    tasks = [
        BatchTask(task_id="compile", task_data=compile_code, priority=1.0),
        BatchTask(task_id="test", task_data=run_tests, priority=0.8,
                  dependencies=["compile"]),  # Requires compile to complete first
        BatchTask(task_id="deploy", task_data=deploy_app, priority=0.6,
                  dependencies=["test"]),  # Requires tests to pass first
    ]

    layers = processor.resolve_execution_order(tasks)
    print(f"Execution layers: {layers}")
    assert layers == [["compile"], ["test"], ["deploy"]]
    assert processor.validate_dependencies(tasks)

    summary = processor.process_batch(tasks, run_stage)
    for result in summary.results:
        print(f"  {result.task_id}: {result.result}")
    assert summary.successful_count == 3

    # Dependency errors fail the entire batch before anything runs.
    cyclic = [BatchTask("a", compile_code, dependencies=["b"]),
              BatchTask("b", compile_code, dependencies=["a"])]
    try:
        processor.process_batch(cyclic, run_stage)
    except ValueError as e:
        if "Circular dependency" in str(e):
            print(f"Invalid task dependencies! ({e})")
    processor.close()


if __name__ == "__main__":
    main()
