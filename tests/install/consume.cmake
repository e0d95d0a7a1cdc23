# Uses the installed package as a user's project would (README: cmake --install, then
# find_package(shrink) and shrink::shrink): installs this build to a temporary prefix, configures
# examples/ on its own against that prefix (no C++ standard or include path of its own: every
# usage requirement must come from the package), builds it and runs one program.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... [-DLINK_FLAGS=...] -P consume.cmake
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE result OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT result EQUAL 0)
    string(REPLACE ";" " " command "${ARGN}")
    message(FATAL_ERROR "failed (${result}): ${command}\n${out}\n${err}")
  endif()
  set(last_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
run(${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${WORK_DIR}/prefix)
set(launcher)
find_program(CCACHE ccache)
if(CCACHE)
  set(launcher -DCMAKE_CXX_COMPILER_LAUNCHER=${CCACHE})
endif()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples -B ${WORK_DIR}/build -DCMAKE_BUILD_TYPE=Release
    -DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix "-DCMAKE_EXE_LINKER_FLAGS=${LINK_FLAGS}" ${launcher})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build -j2)
run(${WORK_DIR}/build/inspect_model ${SOURCE_DIR}/tests/fixtures/onnx/lenet5/model.onnx)
if(NOT last_output MATCHES "output for an input of zeros: \\[1, 10\\]")
  message(FATAL_ERROR "unexpected output of inspect_model:\n${last_output}")
endif()
message(STATUS "examples/ built and ran against the package installed in ${WORK_DIR}/prefix")
file(REMOVE_RECURSE ${WORK_DIR})
