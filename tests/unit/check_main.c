/* check_main.c - the one main() of the Check unit tests: runs the suite of the test file it is
 * linked with (check_main.h) and exits 0 when every test passed. CK_FORK, CK_VERBOSITY and
 * CK_RUN_CASE work as Check documents them. */
#include "check_main.h"

#include <stdlib.h>

int main(void)
{
    SRunner *sr = srunner_create(rd_test_suite());
    int failed;

    srunner_run_all(sr, CK_NORMAL);
    failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
