// ThreadSanitizer builds only (linked into every executable by tests/sanitizers/tsan.cmake):
// makes Debian's uninstrumented Abseil synchronization visible to TSan. Thread-safe.
//
// libabsl_synchronization.so is not built with -fsanitize=thread, so TSan never sees an
// absl::Mutex being locked: every member guarded by one (in batchd, and in gRPC, whose gpr_mu
// is an absl::Mutex) would be reported as a data race. Each function below interposes the
// library's symbol of the same name (the executable's definition wins; calls from inside
// libabsl, libgrpc and libgrpc++ go through the PLT and land here too), tells TSan what it does
// with the mutex annotation API, and calls the library's function (dlsym(RTLD_NEXT)). These
// are the annotations Abseil itself makes when it is compiled with TSan (mutex.cc).
#include <dlfcn.h>
#include <sanitizer/tsan_interface.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "absl/base/options.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"

#if !ABSL_OPTION_USE_INLINE_NAMESPACE
#error "tsan_absl_sync.cc spells Abseil's symbols with its inline namespace"
#endif

namespace {

#define BATCHD_STRINGIFY_INNER(x) #x
#define BATCHD_STRINGIFY(x) BATCHD_STRINGIFY_INNER(x)
constexpr std::string_view kInlineNamespace = BATCHD_STRINGIFY(ABSL_OPTION_INLINE_NAMESPACE_NAME);

// The library's definition of `mangled`, where "@" stands for the inline namespace's name
// (e.g. "_ZN4absl@5Mutex4LockEv" is absl::<ns>::Mutex::Lock()).
template <typename Fn>
Fn Real(std::string_view mangled) {
  char name[256];
  size_t size = 0;
  for (char c : mangled) {
    const int n =
        c == '@'
            ? std::snprintf(name + size, sizeof(name) - size, "%zu%.*s", kInlineNamespace.size(),
                            static_cast<int>(kInlineNamespace.size()), kInlineNamespace.data())
            : std::snprintf(name + size, sizeof(name) - size, "%c", c);
    if (n < 0 || size + static_cast<size_t>(n) >= sizeof(name)) std::abort();  // never: short names
    size += static_cast<size_t>(n);
  }
  void* symbol = dlsym(RTLD_NEXT, name);
  if (symbol == nullptr) {
    std::fprintf(stderr, "tsan_absl_sync: %s not found: %s\n", name, dlerror());
    std::abort();
  }
  return reinterpret_cast<Fn>(symbol);
}

#define BATCHD_REAL(type, mangled)              \
  static const auto real = Real<type>(mangled); \
  static_assert(true)

constexpr unsigned kWrite = 0;
constexpr unsigned kRead = __tsan_mutex_read_lock;

// The library's functions call each other through the PLT too (WaitWithTimeout calls
// WaitWithDeadline, Notify calls Lock, ...): only the outermost call is annotated.
thread_local int depth = 0;

template <typename Call>
auto Outermost(Call call, auto annotated) {
  struct Nesting {
    Nesting() { ++depth; }
    ~Nesting() { --depth; }
  };
  if (depth > 0) {
    Nesting nested;
    return call();
  }
  Nesting outermost;
  return annotated(call);
}

// Calls that return holding `mu` (Lock, LockWhen*: these even when they time out).
template <typename Call>
auto Acquiring(absl::Mutex* mu, unsigned flags, Call call) {
  return Outermost(call, [&](auto& c) {
    __tsan_mutex_pre_lock(mu, flags);
    auto result = c();
    __tsan_mutex_post_lock(mu, flags, 0);
    return result;
  });
}

template <typename Call>
auto Releasing(absl::Mutex* mu, unsigned flags, Call call) {
  return Outermost(call, [&](auto& c) {
    __tsan_mutex_pre_unlock(mu, flags);
    auto result = c();
    __tsan_mutex_post_unlock(mu, flags);
    return result;
  });
}

// `mu` is held (in `mode`) before and after `call`, which releases and re-acquires it while it
// blocks: to TSan, an unlock and a lock. Accesses inside `call` (Condition functions) are
// ignored, as between pre- and post-annotations.
template <typename Call>
auto WhileReleased(absl::Mutex* mu, unsigned mode, Call call) {
  return Outermost(call, [&](auto& c) {
    __tsan_mutex_pre_unlock(mu, mode);
    auto result = c();
    __tsan_mutex_post_unlock(mu, mode);
    __tsan_mutex_pre_lock(mu, mode);
    __tsan_mutex_post_lock(mu, mode, 0);
    return result;
  });
}

// Calls with no annotation of their own, whose inner calls must not be annotated either.
template <typename Call>
auto Inner(Call call) {
  return Outermost(call, [](auto& c) { return c(); });
}

// Notification publishes with a release store to this member, which inline
// HasBeenNotified() reads with an acquire load (instrumented in our code). Its layout:
// a Mutex, then the atomic flag.
void* NotifiedFlag(const absl::Notification* n) {
  static_assert(sizeof(absl::Notification) == sizeof(absl::Mutex) + alignof(absl::Mutex));
  return const_cast<char*>(reinterpret_cast<const char*>(n) + sizeof(absl::Mutex));
}

// Whether `return_address` is inside gRPC's own libraries.
bool InGrpc(void* return_address) {
  Dl_info info;
  return dladdr(return_address, &info) != 0 && info.dli_fname != nullptr &&
         (std::strstr(info.dli_fname, "/libgrpc") != nullptr ||
          std::strstr(info.dli_fname, "/libgpr") != nullptr);
}

}  // namespace

namespace absl {

Mutex::~Mutex() {
  BATCHD_REAL(void (*)(Mutex*), "_ZN4absl@5MutexD1Ev");
  // Also when nested (~Notification): the memory goes away. Not for gRPC's own mutexes: gRPC
  // destroys them on whichever thread drops the last reference to their object, ordered by
  // refcounts TSan cannot see, so the destruction would look like a race with the last lock
  // (e.g. ClientChannel and TCP endpoint mutexes).
  if (!InGrpc(__builtin_return_address(0))) __tsan_mutex_destroy(this, 0);
  Inner([&] { return (real(this), 0); });
}

void Mutex::Lock() {
  BATCHD_REAL(void (*)(Mutex*), "_ZN4absl@5Mutex4LockEv");
  Acquiring(this, kWrite, [&] { return (real(this), 0); });
}

void Mutex::ReaderLock() {
  BATCHD_REAL(void (*)(Mutex*), "_ZN4absl@5Mutex10ReaderLockEv");
  Acquiring(this, kRead, [&] { return (real(this), 0); });
}

bool Mutex::TryLock() {
  BATCHD_REAL(bool (*)(Mutex*), "_ZN4absl@5Mutex7TryLockEv");
  return Outermost([&] { return real(this); },
                   [&](auto& call) {
                     __tsan_mutex_pre_lock(this, __tsan_mutex_try_lock);
                     const bool locked = call();
                     __tsan_mutex_post_lock(
                         this, locked ? __tsan_mutex_try_lock : __tsan_mutex_try_lock_failed, 0);
                     return locked;
                   });
}

bool Mutex::ReaderTryLock() {
  BATCHD_REAL(bool (*)(Mutex*), "_ZN4absl@5Mutex13ReaderTryLockEv");
  return Outermost(
      [&] { return real(this); },
      [&](auto& call) {
        __tsan_mutex_pre_lock(this, __tsan_mutex_try_read_lock);
        const bool locked = call();
        __tsan_mutex_post_lock(
            this, locked ? __tsan_mutex_try_read_lock : __tsan_mutex_try_read_lock_failed, 0);
        return locked;
      });
}

void Mutex::Unlock() {
  BATCHD_REAL(void (*)(Mutex*), "_ZN4absl@5Mutex6UnlockEv");
  Releasing(this, kWrite, [&] { return (real(this), 0); });
}

void Mutex::ReaderUnlock() {
  BATCHD_REAL(void (*)(Mutex*), "_ZN4absl@5Mutex12ReaderUnlockEv");
  Releasing(this, kRead, [&] { return (real(this), 0); });
}

void Mutex::LockWhen(const Condition& cond) {
  BATCHD_REAL(void (*)(Mutex*, const Condition&), "_ZN4absl@5Mutex8LockWhenERKNS0_9ConditionE");
  Acquiring(this, kWrite, [&] { return (real(this, cond), 0); });
}

void Mutex::ReaderLockWhen(const Condition& cond) {
  BATCHD_REAL(void (*)(Mutex*, const Condition&),
              "_ZN4absl@5Mutex14ReaderLockWhenERKNS0_9ConditionE");
  Acquiring(this, kRead, [&] { return (real(this, cond), 0); });
}

bool Mutex::LockWhenWithTimeout(const Condition& cond, Duration timeout) {
  BATCHD_REAL(bool (*)(Mutex*, const Condition&, Duration),
              "_ZN4absl@5Mutex19LockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Acquiring(this, kWrite, [&] { return real(this, cond, timeout); });
}

bool Mutex::ReaderLockWhenWithTimeout(const Condition& cond, Duration timeout) {
  BATCHD_REAL(bool (*)(Mutex*, const Condition&, Duration),
              "_ZN4absl@5Mutex25ReaderLockWhenWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return Acquiring(this, kRead, [&] { return real(this, cond, timeout); });
}

bool Mutex::LockWhenWithDeadline(const Condition& cond, Time deadline) {
  BATCHD_REAL(bool (*)(Mutex*, const Condition&, Time),
              "_ZN4absl@5Mutex20LockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Acquiring(this, kWrite, [&] { return real(this, cond, deadline); });
}

bool Mutex::ReaderLockWhenWithDeadline(const Condition& cond, Time deadline) {
  BATCHD_REAL(bool (*)(Mutex*, const Condition&, Time),
              "_ZN4absl@5Mutex26ReaderLockWhenWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return Acquiring(this, kRead, [&] { return real(this, cond, deadline); });
}

// Await* may be called holding the mutex in either mode; batchd and gRPC hold it exclusively.
void Mutex::Await(const Condition& cond) {
  BATCHD_REAL(void (*)(Mutex*, const Condition&), "_ZN4absl@5Mutex5AwaitERKNS0_9ConditionE");
  WhileReleased(this, kWrite, [&] { return (real(this, cond), 0); });
}

bool Mutex::AwaitWithTimeout(const Condition& cond, Duration timeout) {
  BATCHD_REAL(bool (*)(Mutex*, const Condition&, Duration),
              "_ZN4absl@5Mutex16AwaitWithTimeoutERKNS0_9ConditionENS0_8DurationE");
  return WhileReleased(this, kWrite, [&] { return real(this, cond, timeout); });
}

bool Mutex::AwaitWithDeadline(const Condition& cond, Time deadline) {
  BATCHD_REAL(bool (*)(Mutex*, const Condition&, Time),
              "_ZN4absl@5Mutex17AwaitWithDeadlineERKNS0_9ConditionENS0_4TimeE");
  return WhileReleased(this, kWrite, [&] { return real(this, cond, deadline); });
}

void CondVar::Wait(Mutex* mu) {
  BATCHD_REAL(void (*)(CondVar*, Mutex*), "_ZN4absl@7CondVar4WaitEPNS0_5MutexE");
  WhileReleased(mu, kWrite, [&] { return (real(this, mu), 0); });
}

bool CondVar::WaitWithTimeout(Mutex* mu, Duration timeout) {
  BATCHD_REAL(bool (*)(CondVar*, Mutex*, Duration),
              "_ZN4absl@7CondVar15WaitWithTimeoutEPNS0_5MutexENS0_8DurationE");
  return WhileReleased(mu, kWrite, [&] { return real(this, mu, timeout); });
}

bool CondVar::WaitWithDeadline(Mutex* mu, Time deadline) {
  BATCHD_REAL(bool (*)(CondVar*, Mutex*, Time),
              "_ZN4absl@7CondVar16WaitWithDeadlineEPNS0_5MutexENS0_4TimeE");
  return WhileReleased(mu, kWrite, [&] { return real(this, mu, deadline); });
}

void Notification::Notify() {
  BATCHD_REAL(void (*)(Notification*), "_ZN4absl@12Notification6NotifyEv");
  if (depth == 0) __tsan_release(NotifiedFlag(this));
  Inner([&] { return (real(this), 0); });
}

void Notification::WaitForNotification() const {
  BATCHD_REAL(void (*)(const Notification*), "_ZNK4absl@12Notification19WaitForNotificationEv");
  const bool outermost = depth == 0;
  Inner([&] { return (real(this), 0); });
  if (outermost) __tsan_acquire(NotifiedFlag(this));
}

bool Notification::WaitForNotificationWithTimeout(Duration timeout) const {
  BATCHD_REAL(bool (*)(const Notification*, Duration),
              "_ZNK4absl@12Notification30WaitForNotificationWithTimeoutENS0_8DurationE");
  const bool outermost = depth == 0;
  const bool notified = Inner([&] { return real(this, timeout); });
  if (notified && outermost) __tsan_acquire(NotifiedFlag(this));
  return notified;
}

bool Notification::WaitForNotificationWithDeadline(Time deadline) const {
  BATCHD_REAL(bool (*)(const Notification*, Time),
              "_ZNK4absl@12Notification31WaitForNotificationWithDeadlineENS0_4TimeE");
  const bool outermost = depth == 0;
  const bool notified = Inner([&] { return real(this, deadline); });
  if (notified && outermost) __tsan_acquire(NotifiedFlag(this));
  return notified;
}

}  // namespace absl
