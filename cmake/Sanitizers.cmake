# OFFERD_SANITIZE="address,undefined" builds everything (server, client, tests) instrumented.
if(OFFERD_SANITIZE)
  add_compile_options(-fsanitize=${OFFERD_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  add_link_options(-fsanitize=${OFFERD_SANITIZE})
endif()
