"""Multi-agent team coordination: three researchers work in parallel, a writer waits for all
of them, a reviewer for the writer. Agents are ordinary Python objects; each receives the
outputs of the agents it depends on in task["dependency_results"].
"""

import time

from batchd import BatchProcessor, BatchTask


class ResearchAgent:
    def __init__(self, topic):
        self.topic = topic

    def run(self, task):
        time.sleep(0.1)  # stands in for an LLM call
        return {"topic": self.topic, "facts": [f"{self.topic} fact {i}" for i in range(2)]}


class WriterAgent:
    def run(self, task):
        notes = task["dependency_results"]
        facts = [fact for note in notes.values() for fact in note["facts"]]
        return f"Draft covering {len(notes)} topics with {len(facts)} facts."


class ReviewerAgent:
    def run(self, task):
        draft = task["dependency_results"]["write"]
        return {"approved": "facts" in draft, "comments": "Concise."}


def agent_executor(task):
    return task["task_data"](task)


def main() -> None:
    processor = BatchProcessor(max_concurrent=8, retry_policy="exponential")
    researchers = {f"research_{topic}": ResearchAgent(topic)
                   for topic in ["pricing", "competitors", "regulation"]}
    agents = {
        **{name: BatchTask(task_id=name, task_data=agent.run, priority=1.0)
           for name, agent in researchers.items()},
        "writer": BatchTask(task_id="write", task_data=WriterAgent().run, priority=0.8,
                            dependencies=list(researchers)),
        "reviewer": BatchTask(task_id="review", task_data=ReviewerAgent().run, priority=0.6,
                              dependencies=["write"]),
    }

    print("Layers:", processor.resolve_execution_order(list(agents.values())))
    start = time.monotonic()
    summary = processor.process_batch(list(agents.values()), agent_executor)
    elapsed = time.monotonic() - start
    for result in summary.results:
        print(f"  {result.task_id:>22}: {result.result}")
    print(f"{summary.successful_count}/{len(summary.results)} agents done in {elapsed:.2f}s "
          f"(researchers ran in parallel)")
    review = next(r for r in summary.results if r.task_id == "review")
    assert summary.failed_count == 0 and review.result["approved"]
    processor.close()


if __name__ == "__main__":
    main()
