/*
 * Copyright (c) 2026 The flowgate authors
 *
 * Permission to use, copy, modify, and distribute this software for any
 * purpose with or without fee is hereby granted, provided that the above
 * copyright notice and this permission notice appear in all copies.
 *
 * THE SOFTWARE IS PROVIDED "AS IS" AND THE AUTHOR DISCLAIMS ALL WARRANTIES
 * WITH REGARD TO THIS SOFTWARE INCLUDING ALL IMPLIED WARRANTIES OF
 * MERCHANTABILITY AND FITNESS. IN NO EVENT SHALL THE AUTHOR BE LIABLE FOR
 * ANY SPECIAL, DIRECT, INDIRECT, OR CONSEQUENTIAL DAMAGES OR ANY DAMAGES
 * WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 * ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF
 * OR IN CONNECTION WITH THE USE OR PERFORMANCE OF THIS SOFTWARE.
 */

/*
 * libFuzzer target for config.c: any bytes go through config_load_string;
 * a config that loads is walked and compared with itself, then everything
 * is freed so LeakSanitizer sees each run clean.  Seed it with tests/data:
 *	fuzz_config -max_total_time=30 corpus/ tests/data/
 */

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flowgate.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config_errs	 errs;
	struct config_err	*e;
	struct config		*cfg;
	struct service_conf	*sc;
	size_t			 n = 0;

	cfg = config_load_string("fuzz", (const char *)data, size, &errs);
	if (cfg == NULL) {
		/* A failed load always says why, with the name in front. */
		if (TAILQ_EMPTY(&errs))
			abort();
		TAILQ_FOREACH(e, &errs, entry) {
			if (strncmp(e->msg, "fuzz", 4) != 0)
				abort();
		}
		config_errs_free(&errs);
		return (0);
	}
	if (!TAILQ_EMPTY(&errs) || cfg->workers == 0 || cfg->nservices < 1)
		abort();
	TAILQ_FOREACH(sc, &cfg->services, entry) {
		if (sc->stats == NULL || sc->listen_ops == NULL ||
		    sc->max_flows == 0 ||
		    (sc->has_forward && sc->forward_ops == NULL))
			abort();
		if (!service_conf_equal(sc, sc) ||
		    config_find_service(cfg, sc->name) != sc)
			abort();
		n++;
	}
	if (n != (size_t)cfg->nservices)
		abort();
	config_unref(config_ref(cfg));
	config_unref(cfg);
	return (0);
}
