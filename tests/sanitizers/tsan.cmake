# ThreadSanitizer builds (the tsan preset includes this right after project(), through
# CMAKE_PROJECT_INCLUDE): links tsan_absl_sync.cc into every executable, so TSan sees
# Debian's uninstrumented Abseil mutexes (see that file). Compiled at configure time, so no
# CMakeLists.txt has to know about it.
set(batchd_tsan_shim_source ${CMAKE_CURRENT_LIST_DIR}/tsan_absl_sync.cc)
# The source's hash in the object's name: a changed shim changes every link line, so ninja
# relinks.
file(MD5 ${batchd_tsan_shim_source} batchd_tsan_shim_hash)
string(SUBSTRING ${batchd_tsan_shim_hash} 0 12 batchd_tsan_shim_hash)
set(batchd_tsan_shim_object ${CMAKE_BINARY_DIR}/tsan_absl_sync-${batchd_tsan_shim_hash}.o)
execute_process(
  COMMAND ${CMAKE_CXX_COMPILER} -std=c++20 -fsanitize=thread -O1 -g1 -fPIC
          -Wall -Wextra -Werror -c ${batchd_tsan_shim_source} -o ${batchd_tsan_shim_object}
  RESULT_VARIABLE batchd_tsan_shim_result
  ERROR_VARIABLE batchd_tsan_shim_error)
if(NOT batchd_tsan_shim_result EQUAL 0)
  message(FATAL_ERROR "Cannot compile ${batchd_tsan_shim_source}:\n${batchd_tsan_shim_error}")
endif()
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${batchd_tsan_shim_source})
# Linked into executables only (not into try_compile checks, static libraries or plugins);
# exported, so calls from libgrpc and libabsl themselves are interposed too.
add_link_options(
  "$<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,EXECUTABLE>:${batchd_tsan_shim_object}>"
  "$<$<STREQUAL:$<TARGET_PROPERTY:TYPE>,EXECUTABLE>:-Wl,--export-dynamic-symbol=_ZN4absl*5Mutex*,--export-dynamic-symbol=_ZN4absl*7CondVar*,--export-dynamic-symbol=_ZN4absl*12Notification*,--export-dynamic-symbol=_ZNK4absl*12Notification*>")
# gcc warns (-Wtsan, an error with BATCHD_WERROR) that TSan does not model
# std::atomic_thread_fence, which Asio's fenced blocks use around handler calls. Asio hands
# handlers between threads under its scheduler's mutex, which TSan does see.
add_compile_options($<$<COMPILE_LANGUAGE:CXX>:-Wno-tsan>)
# Compile headers as the uninstrumented libraries were compiled. gcc defines
# __SANITIZE_THREAD__ with -fsanitize=thread, and protobuf's map_field.h then adds two members
# to MapFieldBase: code inlined from it disagrees with libprotobuf.so about the layout and
# crashes (SEGV in Map::InnerMap on any Struct). Abseil and gRPC headers read it too.
add_compile_options(-U__SANITIZE_THREAD__)
