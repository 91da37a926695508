# Compiler flags shared by every Herald target: herald_options is linked PRIVATE by each library.
add_library(herald_options INTERFACE)
target_compile_options(herald_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor
                                                -Wold-style-cast -Wcast-align -Woverloaded-virtual
                                                -Wimplicit-fallthrough)
if(HERALD_WERROR)
  target_compile_options(herald_options INTERFACE -Werror)
endif()
# Boost.Asio without deprecated interfaces; io_uring is not assumed.
target_compile_definitions(herald_options INTERFACE BOOST_ASIO_NO_DEPRECATED)

if(HERALD_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer)
  add_link_options(-fsanitize=address,undefined)
endif()

# herald_add_library(NAME DIR SOURCES...) — one library per folder; include root is src/.
function(herald_add_library name)
  add_library(${name} ${ARGN})
  target_include_directories(${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(${name} PRIVATE herald_options)
endfunction()
