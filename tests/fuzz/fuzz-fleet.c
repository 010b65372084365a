/* Fuzz target: what fleet and fleet-merge read from files another host may
 * have written (a shard's results from a CI artifact, a targets file): the
 * input goes to the result-line reader, the targets-file reader and the
 * report's reader; none may crash, leak or read out of bounds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../fleet/report.h"
#include "../../fleet/result.h"
#include "../../fleet/targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fleet_results rs;
	struct fleet_targets t;
	struct report r;
	struct buf out = BUF_INIT;

	memset(&rs, 0, sizeof(rs));
	memset(&t, 0, sizeof(t));
	memset(&r, 0, sizeof(r));
	if (fleet_results_parse(&rs, (const char *)data, size, "fuzz") == 0 && rs.n)
		fleet_result_format(&out, &rs.items[0]);
	fleet_results_release(&rs);
	if (fleet_targets_parse(&t, (const char *)data, size, "fuzz") == 0)
		fleet_targets_shard(&t, 1, 3);
	fleet_targets_release(&t);
	if (report_add(&r, (const char *)data, size, "fuzz") == 0) {
		report_format(&out, &r, REPORT_HTML, "now");
		report_finish(&r);
		report_format(&out, &r, REPORT_TEXT, "now");
	}
	report_release(&r);
	buf_release(&out);
	return 0;
}
