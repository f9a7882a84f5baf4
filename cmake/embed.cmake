# embed.cmake - a file's bytes as a C array (build-time embedding of the status page):
#   cmake -DIN=page.html -DOUT=page.c -DNAME=symbol -P embed.cmake
# writes `const char NAME[]` (the bytes and a NUL) and `const size_t NAME_len` (without it).
file(READ "${IN}" hex HEX)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
string(REGEX REPLACE "((0x..,){16})" "\\1\n" bytes "${bytes}")
get_filename_component(src "${IN}" NAME)
file(WRITE "${OUT}" "/* generated from ${src} by cmake/embed.cmake: do not edit */\n"
     "#include <stddef.h>\n"
     "extern const char ${NAME}[];\nextern const size_t ${NAME}_len;\n"
     "const char ${NAME}[] = {\n${bytes}0x00};\n"
     "const size_t ${NAME}_len = sizeof ${NAME} - 1;\n")
