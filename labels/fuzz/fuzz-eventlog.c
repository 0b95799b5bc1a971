/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * libFuzzer: the event log a guest agent sends a verifier
 * (swtpm-mgr/vtpm-eventlog.c).  An input is the log itself, parsed and
 * replayed from the TPM's reset values; a log that parses must describe
 * itself consistently (events within the limit, extended PCRs 0-23).
 */
#include <stdlib.h>

#include "tvdc-vtpm.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    tvdc_vtpm_eventlog *l = NULL;
    tvdc_error e;

    if (tvdc_vtpm_eventlog_replay(data, size, NULL, &l, &e) < 0)
        return 0;
    if (l->n_events > TVDC_EVENTLOG_MAX_EVENTS || (l->extended && !l->has_sha256))
        abort();
    for (size_t i = 0; i < l->n_events; i++) {
        (void) tvdc_vtpm_event_type_name(l->events[i].type);
        if (l->events[i].extended && l->events[i].pcr >= TVDC_TPM_PCRS)
            abort();
        if (l->events[i].data_len > size)
            abort();
    }
    tvdc_vtpm_eventlog_free(l);
    return 0;
}
