#!/usr/bin/env python3
"""Moves batchd's flat files into folders by concern and rewrites every reference.
Re-runnable: files already moved are skipped; references are rewritten idempotently."""
import os, re, subprocess, sys

def group(folder, names, exts=(".h", ".cc")):
    out = {}
    base = folder.split("/")[0]
    for n in names:
        for e in exts:
            out[f"{base}/{n}{e}"] = f"{folder}/{n}{e}"
    return out

M = {}
# core
M.update(group("core/time", ["clock", "timer_service", "timer_queue", "asio_timer_service"]))
M.update(group("core/model", ["batch_spec", "task_result", "field_violation"]))
M.update(group("core/base", ["status_macros"]))
M.update(group("core/process", ["child_process", "unique_fd", "valid_utf8", "json_number", "shell_run"]))
M.update(group("core/graph", ["task_graph", "task_assignment"]))
M.update(group("core/executors", ["executor", "executor_environment", "executor_registry", "builtin_executors"]))
M.update(group("core/executors/shell", ["shell_executor", "shell_input"]))
M.update(group("core/executors/http", ["http_exchange", "http_executor", "http_request_spec", "http_response_outcome"]))
M.update(group("core/executors/plugin", ["plugin_executor"]))
M["core/executors/plugin/batchd_plugin.h"] = "core/executors/plugin/batchd_plugin.h"
M["core/executors/plugin/examples/text_plugin.c"] = "core/executors/plugin/examples/text_plugin.c"
M.update(group("core/workers", ["worker_hub", "worker_executor", "worker_connection", "connected_worker", "load_balancer"]))
M.update(group("core/journal", ["journal", "journal_events", "journal_storage", "journal_store", "group_commit_journal", "crc32c"]))
M.update(group("core/scheduling", ["scheduler", "batch", "retry_backoff", "scheduler_observer", "admission",
                                   "admission_ledger", "parking_lot", "batch_replay", "result_readers",
                                   "retention", "task_transitions", "waiters", "readers", "batch_readers", "finished_batches"]))
# server
M.update(group("server/convert", ["proto_convert", "result_convert", "status_convert", "worker_convert"]))
M.update(group("server/rpc", ["batch_service", "worker_service", "health_service", "auth_check",
                              "finished_reactor", "request_limits", "batch_request", "stream_limiter",
                              "pull_stream", "progress_stream", "result_stream", "result_packer",
                              "message_budget", "connect_response_queue", "worker_stream", "grpc_server"]))
M.update(group("server/flags", ["daemon_flags", "dashed_flag", "flag_environment", "plugin_flags",
                                "security_flags", "shell_flags", "listen_address", "flag_names", "flag_help", "argv_prepass"]))
M.update(group("server/observability", ["prometheus_metrics", "metrics_http_server", "rpc_metrics_interceptor",
                                        "log_setup", "malloc_trimmer"]))
M.update(group("server/journal", ["batch_record_codec", "journal_recovery", "journal_check"]))
M.update(group("server/daemon", ["daemon", "daemon_config", "daemon_runtime", "scheduler_runtime"]))
# client
M.update(group("client/cpp", ["batch_client", "channel", "batch_file", "stop_signal_watcher"]))
M.update(group("client/format", ["error_format", "listing_format", "progress_format", "result_table",
                                 "state_names", "text_table", "units_format"]))
M.update(group("client/worker", ["worker_outbox", "worker_session", "process_task_handler"]))
M.update(group("client/batchctl", ["batch_commands", "command_context", "command_line", "daemon_commands",
                                   "worker_command"]))
M["client/batchctl/batchctl.cc"] = "client/batchctl/batchctl.cc"

# unit tests mirror their component
def tmirror(src_map, tdir):
    out = {}
    for old, new in src_map.items():
        if not old.endswith(".cc") or not old.startswith(tdir.split("/")[2] + "/"):
            continue
        stem = os.path.basename(old)[:-3]
        top = old.split("/")[0]
        out[f"tests/unit/{top}/{stem}_test.cc"] = f"tests/unit/{os.path.dirname(new)}/{stem}_test.cc"
    return out
T = {}
for top in ("core", "server", "client"):
    T.update(tmirror({k: v for k, v in M.items() if k.startswith(top + "/")}, f"tests/unit/{top}"))
# tests that are not named after one file
T["tests/unit/core/scheduling/scheduler_journal_test.cc"] = "tests/unit/core/scheduling/scheduler_journal_test.cc"
T["tests/unit/core/base/status_macros_test.cc"] = "tests/unit/core/base/status_macros_test.cc"
T["tests/unit/server/observability/observability_test.cc"] = "tests/unit/server/observability/observability_test.cc"
T["tests/unit/client/format/format_test.cc"] = "tests/unit/client/format/format_test.cc"
T["tests/unit/server/flags/flag_names_test.cc"] = "tests/unit/server/flags/flag_names_test.cc"
T["tests/unit/server/flags/argv_prepass_test.cc"] = "tests/unit/server/flags/argv_prepass_test.cc"
T["tests/integration/scheduling_end_to_end_test.cc"] = "tests/integration/scheduling_end_to_end_test.cc"
M.update(T)

def tracked():
    return subprocess.run(["git", "ls-files"], capture_output=True, text=True, check=True).stdout.split()

def main():
    files = set(tracked())
    moved = 0
    for old, new in sorted(M.items()):
        if old in files and not os.path.exists(new):
            os.makedirs(os.path.dirname(new), exist_ok=True)
            subprocess.run(["git", "mv", old, new], check=True)
            moved += 1
    # references: include paths and file paths in docs, scripts and CMake
    pattern = re.compile(r"(?<![\w/.-])(" + "|".join(re.escape(o) for o in sorted(M, key=len, reverse=True)) + r")(?![\w])")
    changed = 0
    for f in tracked():
        if f.startswith(("bench/results/", "tests/fuzz/corpus/")) or "node_modules" in f:
            continue
        if not os.path.isfile(f) or os.path.islink(f):
            continue
        try:
            text = open(f, encoding="utf-8").read()
        except (UnicodeDecodeError, IsADirectoryError):
            continue
        new_text = pattern.sub(lambda m: M[m.group(1)], text)
        if new_text != text:
            open(f, "w", encoding="utf-8").write(new_text)
            changed += 1
    print(f"moved {moved} files, rewrote references in {changed}")

if __name__ == "__main__":
    main()
