/* check_main.h - every Check unit test (tests/unit/test_*.c) defines its suite here; the one
 * main() (check_main.c) runs it. */
#ifndef RD_CHECK_MAIN_H
#define RD_CHECK_MAIN_H

#include <check.h>

/* The file's suite (allocated; the runner owns it). */
Suite *rd_test_suite(void);

#endif
