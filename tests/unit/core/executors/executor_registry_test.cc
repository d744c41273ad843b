#include "core/executors/executor_registry.h"

#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace batchd::core {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

// Does nothing but report its figures and tell the test when it is destroyed.
class StubExecutor final : public Executor {
 public:
  explicit StubExecutor(bool* destroyed = nullptr, uint32_t workers = 0)
      : destroyed_(destroyed), workers_(workers) {}
  ~StubExecutor() override {
    if (destroyed_ != nullptr) *destroyed_ = true;
  }
  void Start(const ExecutionRequest&, CompletionSink&) override {}
  void Cancel(const AttemptToken&) override {}
  void Describe(ExecutorDescription& description) const override {
    description.workers = workers_;
    description.capacity = workers_ * 2;
  }

 private:
  bool* destroyed_;
  uint32_t workers_;
};

class ExecutorRegistryTest : public ::testing::Test {
 protected:
  ExecutorRegistryTest() {
    EXPECT_TRUE(
        registry_.Register({"echo", "builtin", 0, 0}, std::make_unique<StubExecutor>()).ok());
  }
  // On-demand executors of kind "worker"; each made one reports `made_` workers and sets
  // `destroyed_` when it goes.
  void SetFactory() {
    registry_.SetOnDemandFactory("worker", [this](const std::string&) {
      ++made_;
      destroyed_ = false;
      return std::make_unique<StubExecutor>(&destroyed_, made_);
    });
  }

  ExecutorRegistry registry_;
  uint32_t made_ = 0;
  bool destroyed_ = false;
};

TEST_F(ExecutorRegistryTest, RegisteredExecutorIsFoundAndListedWithoutHolders) {
  EXPECT_NE(registry_.Find("echo"), nullptr);  // the temporary holder is gone again
  EXPECT_NE(registry_.Find("echo"), nullptr);
  const std::vector<ExecutorDescription> listed = registry_.List();
  ASSERT_EQ(listed.size(), 1u);
  EXPECT_EQ(listed[0].name, "echo");
  EXPECT_EQ(listed[0].kind, "builtin");
  EXPECT_EQ(registry_.Find("nope"), nullptr);
}

TEST_F(ExecutorRegistryTest, RegisteringATakenNameIsAlreadyExists) {
  absl::Status s = registry_.Register({"echo", "plugin", 0, 0}, std::make_unique<StubExecutor>());
  EXPECT_EQ(s.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(s.message(), "Executor 'echo' already registered");
  EXPECT_EQ(registry_.List().at(0).kind, "builtin");
}

TEST_F(ExecutorRegistryTest, FindOrCreateWithoutAFactoryMakesNothing) {
  ExecutorRegistry::Found found = registry_.FindOrCreate("gpu");
  EXPECT_EQ(found.executor, nullptr);
  EXPECT_EQ(found.kind, "");
  EXPECT_THAT(registry_.Names(), ElementsAre("echo"));
}

TEST_F(ExecutorRegistryTest, FindOrCreateFindsARegisteredExecutorWithItsKind) {
  SetFactory();
  ExecutorRegistry::Found found = registry_.FindOrCreate("echo");
  EXPECT_EQ(found.executor, registry_.Find("echo"));
  EXPECT_EQ(found.kind, "builtin");
  EXPECT_EQ(made_, 0u);
}

TEST_F(ExecutorRegistryTest, OnDemandExecutorIsListedWhileHeld) {
  SetFactory();
  ExecutorRegistry::Found found = registry_.FindOrCreate("gpu");
  ASSERT_NE(found.executor, nullptr);
  EXPECT_EQ(found.kind, "worker");
  EXPECT_EQ(registry_.FindOrCreate("gpu").executor, found.executor);  // the same one
  EXPECT_EQ(registry_.Find("gpu"), found.executor);
  EXPECT_EQ(made_, 1u);
  const std::vector<ExecutorDescription> listed = registry_.List();
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1].name, "gpu");
  EXPECT_EQ(listed[1].kind, "worker");
  EXPECT_EQ(listed[1].workers, 1u);
  EXPECT_EQ(listed[1].capacity, 2u);
  EXPECT_THAT(registry_.Names(), ElementsAre("echo", "gpu"));
}

TEST_F(ExecutorRegistryTest, OnDemandExecutorIsForgottenWhenItsLastHolderLetsGo) {
  SetFactory();
  std::shared_ptr<Executor> worker = registry_.FindOrCreate("gpu").executor;
  std::shared_ptr<Executor> batch = registry_.Find("gpu");
  worker.reset();
  EXPECT_FALSE(destroyed_);
  EXPECT_THAT(registry_.Names(), ElementsAre("echo", "gpu"));
  batch.reset();
  EXPECT_TRUE(destroyed_);
  EXPECT_EQ(registry_.Find("gpu"), nullptr);
  EXPECT_THAT(registry_.Names(), ElementsAre("echo"));
  EXPECT_EQ(registry_.List().size(), 1u);
}

TEST_F(ExecutorRegistryTest, ForgottenNameIsMadeAfreshByTheNextFindOrCreate) {
  SetFactory();
  registry_.FindOrCreate("gpu");  // nobody keeps it
  EXPECT_TRUE(destroyed_);
  EXPECT_EQ(registry_.Find("gpu"), nullptr);
  ExecutorRegistry::Found again = registry_.FindOrCreate("gpu");
  ASSERT_NE(again.executor, nullptr);
  EXPECT_EQ(again.kind, "worker");
  EXPECT_EQ(made_, 2u);
  EXPECT_EQ(registry_.List().at(1).workers, 2u);  // the second one's figures
}

TEST_F(ExecutorRegistryTest, ForgottenOnDemandNameCanBeRegistered) {
  SetFactory();
  registry_.FindOrCreate("gpu");
  EXPECT_TRUE(registry_.Register({"gpu", "plugin", 0, 0}, std::make_unique<StubExecutor>()).ok());
  EXPECT_EQ(registry_.FindOrCreate("gpu").kind, "plugin");
  EXPECT_EQ(made_, 1u);
}

TEST_F(ExecutorRegistryTest, FactoryAnsweringNullMakesNothing) {
  registry_.SetOnDemandFactory(
      "worker", [](const std::string&) -> std::unique_ptr<Executor> { return nullptr; });
  ExecutorRegistry::Found found = registry_.FindOrCreate("gpu");
  EXPECT_EQ(found.executor, nullptr);
  EXPECT_EQ(found.kind, "");
  EXPECT_THAT(registry_.Names(), ElementsAre("echo"));
}

TEST_F(ExecutorRegistryTest, EmptyRegistryListsNothing) {
  ExecutorRegistry empty;
  EXPECT_THAT(empty.List(), IsEmpty());
  EXPECT_THAT(empty.Names(), IsEmpty());
}

}  // namespace
}  // namespace batchd::core
