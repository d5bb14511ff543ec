# check_install_server.cmake - install the build into PREFIX and check what the server installs:
# offerd (runs, reports the project's version), the migrations (the same files as migrations/),
# the man pages (each renders with man -l, groff -ww and mandoc -Tlint without a warning, names
# the version, and offerd.8 covers every option --help lists), the settings template (every
# variable), the systemd unit (ExecStart under PREFIX; systemd-analyze verify) and the nginx site
# (nginx -t; the same text as docs/deploying.md shows). Renderers and tools that are not
# installed are skipped with a message. Run by ctest as install/server.
cmake_policy(SET CMP0054 NEW)

function(fail)
  string(JOIN "" msg ${ARGN})
  message(FATAL_ERROR "${msg}")
endfunction()

# Runs a command; fails unless it exits 0 with nothing on stderr. Output in ${out_var}.
function(run_clean out_var what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR NOT err STREQUAL "")
    fail("${what} failed (${rc}):\n${err}\n${out}")
  endif()
  set(${out_var} "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE ${PREFIX})
execute_process(COMMAND ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${PREFIX}
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  fail("cmake --install failed")
endif()

set(pages share/man/man8/offerd.8)
set(expected bin/offerd share/offerd/offerd.env share/offerd/nginx-offerd.conf
             share/offerd/nginx-offerd-cluster.conf lib/systemd/system/offerd.service
             lib/systemd/system/offerd@.service share/doc/offerd/deploying.md)
if(WITH_CLIENT)
  list(APPEND pages share/man/man1/offer-watch.1 share/man/man3/libofferpoll.3)
  list(APPEND expected bin/offer-watch)
endif()
foreach(f IN LISTS expected pages)
  if(NOT EXISTS ${PREFIX}/${f})
    fail("not installed: ${f}")
  endif()
endforeach()

# ---- migrations: every file of migrations/, unchanged ---------------------------------------
file(GLOB_RECURSE src_sql RELATIVE ${SOURCE_DIR}/migrations ${SOURCE_DIR}/migrations/*.sql)
file(GLOB_RECURSE inst_sql RELATIVE ${PREFIX}/share/offerd/migrations ${PREFIX}/share/offerd/migrations/*)
list(SORT src_sql)
list(SORT inst_sql)
if(NOT src_sql OR NOT src_sql STREQUAL inst_sql)
  fail("installed migrations (${inst_sql}) are not migrations/ (${src_sql})")
endif()
foreach(f IN LISTS src_sql)
  file(SHA256 ${SOURCE_DIR}/migrations/${f} a)
  file(SHA256 ${PREFIX}/share/offerd/migrations/${f} b)
  if(NOT a STREQUAL b)
    fail("installed migration ${f} differs from the source")
  endif()
endforeach()
list(GET src_sql -1 last_sql)
get_filename_component(last_sql "${last_sql}" NAME)
string(REGEX MATCH "^[0-9]+" last_schema "${last_sql}")
math(EXPR last_schema "${last_schema}")

# ---- offerd runs: version, schema, help -------------------------------------------------------
run_clean(version "${PREFIX}/bin/offerd --version" ${PREFIX}/bin/offerd --version)
if(NOT version MATCHES "^offerd ${VERSION} \\(schema version ${last_schema}\\)")
  fail("offerd --version says '${version}', expected offerd ${VERSION}, schema ${last_schema}")
endif()
run_clean(help "offerd --help" ${PREFIX}/bin/offerd --help)
string(REGEX MATCHALL "\n  --[a-z-]+ " flags "${help}")
list(LENGTH flags nflags)
if(nflags LESS 20)
  fail("offerd --help lists only ${nflags} options:\n${help}")
endif()
if(WITH_CLIENT)
  file(GLOB_RECURSE libs ${PREFIX}/*/libofferpoll.so*)
  list(GET libs 0 lib)
  get_filename_component(libdir ${lib} DIRECTORY)
  run_clean(out "offer-watch --version"
            ${CMAKE_COMMAND} -E env LD_LIBRARY_PATH=${libdir} ${PREFIX}/bin/offer-watch --version)
endif()

# ---- man pages --------------------------------------------------------------------------------
file(STRINGS ${SOURCE_DIR}/include/offerpoll.h op_version REGEX "^#define OFFERPOLL_VERSION \"")
string(REGEX MATCH "[0-9]+\\.[0-9]+\\.[0-9]+" op_version "${op_version}")
find_program(MAN man)
find_program(GROFF groff)
find_program(MANDOC mandoc)
foreach(page IN LISTS pages)
  set(p ${PREFIX}/${page})
  file(STRINGS ${p} th REGEX "^\\.TH ")
  get_filename_component(name ${page} NAME)
  if(name STREQUAL "libofferpoll.3")
    set(want "\"libofferpoll ${op_version}\"")
  else()
    set(want "\"offerd ${VERSION}\"")
  endif()
  string(FIND "${th}" "${want}" at)
  if(at LESS 0)
    fail("${page}: .TH names no ${want}: ${th}")
  endif()
  if(MAN)
    run_clean(text "man -l ${page}"
              ${CMAKE_COMMAND} -E env LC_ALL=C.UTF-8 MANWIDTH=80 MANPAGER=cat PAGER=cat
              ${MAN} -l ${p})
    string(LENGTH "${text}" len)
    if(len LESS 500)
      fail("man -l ${page} rendered almost nothing:\n${text}")
    endif()
  endif()
  if(GROFF)
    run_clean(out "groff -man -ww ${page}" ${GROFF} -man -Tutf8 -ww -z ${p})
  endif()
  if(MANDOC)
    execute_process(COMMAND ${MANDOC} -Tlint -W warning ${p} RESULT_VARIABLE rc
                    OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      fail("mandoc -Tlint ${page}:\n${out}${err}")
    endif()
  endif()
endforeach()
if(NOT MAN AND NOT GROFF AND NOT MANDOC)
  message(STATUS "no man, groff or mandoc: man pages not rendered")
endif()

# offerd.8 (roff: \-\-flag), the settings template and the README's table cover every option
# --help lists.
file(READ ${PREFIX}/share/man/man8/offerd.8 man8)
file(READ ${PREFIX}/share/offerd/offerd.env envfile)
file(READ ${SOURCE_DIR}/README.md readme)
foreach(f IN LISTS flags)
  string(STRIP "${f}" flag)
  string(REPLACE "-" "\\-" roff_flag "${flag}")
  string(SUBSTRING "${flag}" 2 -1 var)
  string(TOUPPER "OFFERD_${var}" var)
  string(REPLACE "-" "_" var "${var}")
  string(FIND "${man8}" "${roff_flag}" a)
  string(FIND "${man8}" "${var}" b)
  string(FIND "${envfile}" "\n#${var}=" c)
  if(a LESS 0 OR b LESS 0)
    fail("offerd.8 does not describe ${flag} / ${var}")
  endif()
  if(c LESS 0)
    fail("offerd.env has no '#${var}=' line")
  endif()
  string(FIND "${readme}" "| `${flag} " d)
  string(FIND "${readme}" "| `${flag}`" e)
  if(d LESS 0 AND e LESS 0)
    fail("README.md's configuration table has no row for ${flag}")
  endif()
endforeach()

# ---- systemd unit -----------------------------------------------------------------------------
set(unit ${PREFIX}/lib/systemd/system/offerd.service)
file(STRINGS ${unit} exec REGEX "^ExecStart=")
if(NOT exec STREQUAL "ExecStart=${PREFIX}/bin/offerd")
  fail("offerd.service: ${exec}, expected ExecStart=${PREFIX}/bin/offerd")
endif()
find_program(SYSTEMD_ANALYZE systemd-analyze)
if(SYSTEMD_ANALYZE)
  # MANPATH, so that Documentation=man:offerd(8) finds the page just installed.
  execute_process(COMMAND ${CMAKE_COMMAND} -E env MANPATH=${PREFIX}/share/man
                          ${SYSTEMD_ANALYZE} verify ${unit}
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR err MATCHES "offerd")
    fail("systemd-analyze verify offerd.service (${rc}):\n${out}${err}")
  endif()
else()
  message(STATUS "no systemd-analyze: offerd.service not verified")
endif()
# The template (offerd@PORT, several instances) is made from offerd.service by string
# replacements at install time: each must have matched, or it would silently run on one port.
set(template ${PREFIX}/lib/systemd/system/offerd@.service)
file(READ ${template} template_text)
foreach(line "ExecStart=${PREFIX}/bin/offerd --port %i\n" "Description=offerd on port %i: "
             "EnvironmentFile=-/etc/default/offerd-%i\n")
  string(FIND "${template_text}" "${line}" at)
  if(at LESS 0)
    fail("offerd@.service lacks \"${line}\"")
  endif()
endforeach()
if(SYSTEMD_ANALYZE)
  set(t ${PREFIX}/../install-server-units)
  file(REMOVE_RECURSE ${t})
  file(MAKE_DIRECTORY ${t})
  file(COPY_FILE ${template} ${t}/offerd@8081.service)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env MANPATH=${PREFIX}/share/man
                          ${SYSTEMD_ANALYZE} verify ${t}/offerd@8081.service
                  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0 OR err MATCHES "offerd")
    fail("systemd-analyze verify offerd@8081.service (${rc}):\n${out}${err}")
  endif()
endif()

# ---- nginx site -------------------------------------------------------------------------------
file(READ ${SOURCE_DIR}/packaging/nginx-offerd.conf site)
file(READ ${SOURCE_DIR}/docs/deploying.md deploying)
string(FIND "${deploying}" "${site}" at)
if(at LESS 0)
  fail("docs/deploying.md does not show packaging/nginx-offerd.conf as it is")
endif()
find_program(NGINX nginx PATHS /usr/sbin /sbin)
find_program(OPENSSL openssl)
if(NGINX AND OPENSSL)
  # nginx -t loads the certificate: put a throwaway one where the site names Let's Encrypt's.
  set(t ${PREFIX}/../install-server-nginx)
  file(REMOVE_RECURSE ${t})
  file(MAKE_DIRECTORY ${t}/logs)
  execute_process(COMMAND ${OPENSSL} req -x509 -newkey rsa:2048 -nodes -days 1
                          -subj /CN=offers.example.com -keyout ${t}/key.pem -out ${t}/cert.pem
                  RESULT_VARIABLE rc OUTPUT_QUIET ERROR_QUIET)
  if(NOT rc EQUAL 0)
    fail("openssl could not make a test certificate")
  endif()
  # Both sites: one instance, and several behind an upstream.
  foreach(site nginx-offerd.conf nginx-offerd-cluster.conf)
    file(READ ${PREFIX}/share/offerd/${site} conf)
    string(REGEX REPLACE "ssl_certificate [^;]+;" "ssl_certificate ${t}/cert.pem;" conf "${conf}")
    string(REGEX REPLACE "ssl_certificate_key [^;]+;" "ssl_certificate_key ${t}/key.pem;" conf
           "${conf}")
    file(WRITE ${t}/offerd.conf "${conf}")
    file(WRITE ${t}/nginx.conf "pid ${t}/nginx.pid;\nerror_log ${t}/logs/error.log;\n"
               "events { worker_connections 1024; }\n"
               "http {\n    access_log ${t}/logs/access.log;\n    include ${t}/offerd.conf;\n}\n")
    execute_process(COMMAND ${NGINX} -t -p ${t} -c ${t}/nginx.conf
                    RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
      fail("nginx -t on ${site} (${rc}):\n${out}${err}")
    endif()
  endforeach()
else()
  message(STATUS "no nginx or openssl: the nginx sites not checked with nginx -t")
endif()

message(STATUS "installed server files check out: offerd ${VERSION}, ${nflags} options, "
               "migrations ${src_sql}")
