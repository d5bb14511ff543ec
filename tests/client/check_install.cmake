# check_install.cmake - install the build into PREFIX, then build examples/ against it three ways:
# CMake package (find_package(offerpoll)), pkg-config (shared) and pkg-config --static, each
# producing a program that runs. Run by ctest as client/install.
cmake_policy(SET CMP0054 NEW)
# A sanitized build installs a sanitized library: its consumers need the same runtime.
set(san_flags "")
if(SANITIZE)
  set(san_flags -fsanitize=${SANITIZE})
endif()
file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed")
endif()
foreach(f include/offerpoll.h)
  if(NOT EXISTS ${PREFIX}/${f})
    message(FATAL_ERROR "not installed: ${f}")
  endif()
endforeach()
file(GLOB_RECURSE pcs ${PREFIX}/*/offerpoll.pc)
file(GLOB_RECURSE configs ${PREFIX}/*/offerpollConfig.cmake)
file(GLOB_RECURSE shared ${PREFIX}/*/libofferpoll.so)
file(GLOB_RECURSE static ${PREFIX}/*/libofferpoll.a)
file(GLOB_RECURSE tool ${PREFIX}/bin/offer-watch)
set(expected pcs configs static tool)
if(SHARED_TYPE STREQUAL "SHARED_LIBRARY")
  list(APPEND expected shared)
endif()
foreach(v IN LISTS expected)
  if(NOT ${v})
    message(FATAL_ERROR "nothing installed for ${v}")
  endif()
endforeach()

# 1. CMake package
set(bdir ${PREFIX}/../install-test-build)
file(REMOVE_RECURSE ${bdir})
execute_process(COMMAND ${CMAKE_COMMAND} -S ${EXAMPLES_DIR} -B ${bdir} -G ${GENERATOR}
                        -DCMAKE_C_COMPILER=${C_COMPILER} -DCMAKE_PREFIX_PATH=${PREFIX}
                        "-DCMAKE_C_FLAGS=${san_flags}"
                RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring examples against the install failed:\n${out}\n${err}")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${bdir} RESULT_VARIABLE rc
                OUTPUT_VARIABLE out ERROR_VARIABLE err)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building examples against the install failed:\n${out}\n${err}")
endif()
# the usage line proves it links and loads the installed library
execute_process(COMMAND ${bdir}/watch_offer RESULT_VARIABLE rc ERROR_VARIABLE err)
if(NOT rc EQUAL 2 OR NOT err MATCHES "usage")
  message(FATAL_ERROR "find_package build of watch_offer did not run (${rc}): ${err}")
endif()

# 2. and 3. pkg-config, shared and static
find_program(PKG_CONFIG pkg-config REQUIRED)
list(GET pcs 0 pc)
get_filename_component(pcdir ${pc} DIRECTORY)
set(ENV{PKG_CONFIG_PATH} ${pcdir})
set(kinds static)
if(SHARED_TYPE STREQUAL "SHARED_LIBRARY")
  set(kinds shared static)
endif()
foreach(kind IN LISTS kinds)
  execute_process(COMMAND ${PKG_CONFIG} --cflags --libs offerpoll
                  OUTPUT_VARIABLE flags OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config offerpoll failed")
  endif()
  if(kind STREQUAL "static")
    # --static must bring libofferpoll's own private needs; libcurl's full static closure
    # (nghttp2, ssh2, ldap...) is the system's business, so link those dependencies shared.
    execute_process(COMMAND ${PKG_CONFIG} --static --libs offerpoll
                    OUTPUT_VARIABLE static_flags OUTPUT_STRIP_TRAILING_WHITESPACE)
    foreach(needed -lcurl -ljansson -pthread -lm)
      if(NOT " ${static_flags} " MATCHES " ${needed} ")
        message(FATAL_ERROR "pkg-config --static --libs offerpoll lacks ${needed}: ${static_flags}")
      endif()
    endforeach()
    execute_process(COMMAND ${PKG_CONFIG} --libs libcurl jansson
                    OUTPUT_VARIABLE dep_flags OUTPUT_STRIP_TRAILING_WHITESPACE)
    string(REPLACE "-lofferpoll" "-l:libofferpoll.a" flags "${flags}")
    set(flags "${flags} ${dep_flags} -pthread -lm")
  endif()
  separate_arguments(flags UNIX_COMMAND "${flags}")
  set(exe ${bdir}/watch_offer_pc_${kind})
  execute_process(COMMAND ${C_COMPILER} -std=c11 -Wall -Werror ${san_flags}
                          ${EXAMPLES_DIR}/watch_offer.c
                          ${flags} -o ${exe}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE err ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "pkg-config ${kind} build failed (${flags}):\n${err}")
  endif()
  list(GET static 0 archive)
  get_filename_component(libdir ${archive} DIRECTORY)
  set(ENV{LD_LIBRARY_PATH} ${libdir})
  execute_process(COMMAND ${exe} RESULT_VARIABLE rc ERROR_VARIABLE err)
  if(NOT rc EQUAL 2 OR NOT err MATCHES "usage")
    message(FATAL_ERROR "pkg-config ${kind} build of watch_offer did not run (${rc}): ${err}")
  endif()
endforeach()
message(STATUS "installed package works with find_package and pkg-config (shared, static)")
