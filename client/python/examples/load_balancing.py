"""Load balancing: how each strategy spreads tasks over workers (assign_tasks previews it),
and the strategy batchd uses among the workers serving an executor."""

from batchd import BatchProcessor, BatchTask


def main() -> None:
    processor = BatchProcessor()
    tasks = [BatchTask(f"job{i}", None, priority=p)
             for i, p in enumerate([0.9, 0.1, 0.5, 0.7, 0.3, 0.8, 0.2, 0.6, 0.4, 1.0])]

    # Set load balancing strategy
    processor.set_load_balancer("least_loaded")

    # Assign tasks to workers
    assignments = processor.assign_tasks(tasks, workers=4)
    print(f"Worker assignments: {[len(a) for a in assignments]}")

    for strategy in ["round_robin", "least_loaded", "weighted", "random"]:
        processor.set_load_balancer(strategy)
        assignments = processor.assign_tasks(tasks, workers=3, seed=1)
        loads = [round(sum(t.priority for t in a), 1) for a in assignments]
        print(f"{processor.get_load_balancer():>12}: "
              f"{[[t.task_id for t in a] for a in assignments]}  priority sums {loads}")
        assert sorted(t.task_id for a in assignments for t in a) == sorted(
            t.task_id for t in tasks)

    try:
        processor.set_load_balancer("fastest")
    except ValueError as e:
        print(f"rejected: {e}")
    processor.close()


if __name__ == "__main__":
    main()
