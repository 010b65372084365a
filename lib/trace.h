/* W3C trace context (issue #20): a TRACEPARENT from the environment,
 * carried into the applier's JSON log lines and PostgreSQL's
 * application_name, so a long migration shows up in the team's tracing. */
#ifndef CAIRN_TRACE_H
#define CAIRN_TRACE_H

/* $TRACEPARENT when it is a valid version-00 traceparent
 * ("00-<32 hex>-<16 hex>-<2 hex>", lower case, ids not all zero), else
 * NULL: an invalid one is ignored, as the W3C recommendation says. */
const char *trace_parent(void);

#endif
