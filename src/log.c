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
 * Logging: one line per event, written with a single write(2) so lines from
 * several worker threads never interleave.  Text lines look like
 *	2026-11-22T10:00:00.123Z info flow closed service=dns flow=3 ...
 * and JSON lines carry the same message in a "msg" field.
 */

#include <sys/types.h>

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "flowgate.h"

static _Atomic int	log_lvl = LOG_LVL_INFO;
static _Atomic int	log_fmt = LOG_FMT_TEXT;
static _Atomic int	log_syslog;

static const char *const log_names[] = { "error", "warn", "info", "debug" };
static const int log_prio[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };

void
log_init(enum log_level lvl, enum log_format fmt, int use_syslog)
{
	log_set(lvl, fmt, use_syslog);
}

void
log_set(enum log_level lvl, enum log_format fmt, int use_syslog)
{
	if (use_syslog && !log_syslog)
		openlog("flowgate", LOG_PID | LOG_NDELAY, LOG_DAEMON);
	log_lvl = lvl;
	log_fmt = fmt;
	log_syslog = use_syslog;
}

int
log_level_parse(const char *s, enum log_level *lvl)
{
	size_t	i;

	for (i = 0; i < sizeof(log_names) / sizeof(log_names[0]); i++) {
		if (strcmp(s, log_names[i]) == 0) {
			*lvl = (enum log_level)i;
			return (0);
		}
	}
	return (-1);
}

int
log_format_parse(const char *s, enum log_format *fmt)
{
	if (strcmp(s, "text") == 0)
		*fmt = LOG_FMT_TEXT;
	else if (strcmp(s, "json") == 0)
		*fmt = LOG_FMT_JSON;
	else
		return (-1);
	return (0);
}

int
log_enabled(enum log_level lvl)
{
	return ((int)lvl <= log_lvl);
}

/* Append s to buf as the body of a JSON string. */
static size_t
log_json_escape(char *buf, size_t off, size_t size, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char	c;

	for (; *s != '\0' && off + 7 < size; s++) {
		c = (unsigned char)*s;
		if (c == '"' || c == '\\') {
			buf[off++] = '\\';
			buf[off++] = (char)c;
		} else if (c < 0x20) {
			buf[off++] = '\\';
			buf[off++] = 'u';
			buf[off++] = '0';
			buf[off++] = '0';
			buf[off++] = hex[c >> 4];
			buf[off++] = hex[c & 0xf];
		} else
			buf[off++] = (char)c;
	}
	return (off);
}

void
log_vemit(enum log_level lvl, const char *fmt, va_list ap)
{
	char		 msg[2048], line[4200], ts[96];
	struct timespec	 tv;
	struct tm	 tm;
	size_t		 off;
	int		 n, saved = errno;

	if (!log_enabled(lvl))
		return;
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	if (n < 0)
		return;
	/* Never let a peer-controlled string break a line in two. */
	for (off = 0; msg[off] != '\0'; off++)
		if (msg[off] == '\n' || msg[off] == '\r')
			msg[off] = ' ';
	if (log_syslog) {
		syslog(log_prio[lvl], "%s", msg);
		errno = saved;
		return;
	}
	clock_gettime(CLOCK_REALTIME, &tv);
	gmtime_r(&tv.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, tv.tv_nsec / 1000000);
	if (log_fmt == LOG_FMT_JSON) {
		off = (size_t)snprintf(line, sizeof(line),
		    "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"", ts,
		    log_names[lvl]);
		off = log_json_escape(line, off, sizeof(line) - 3, msg);
		line[off++] = '"';
		line[off++] = '}';
		line[off++] = '\n';
	} else {
		n = snprintf(line, sizeof(line) - 1, "%s %s %s", ts,
		    log_names[lvl], msg);
		off = (size_t)n < sizeof(line) - 1 ? (size_t)n :
		    sizeof(line) - 2;
		line[off++] = '\n';
	}
	if (write(STDERR_FILENO, line, off) == -1) {
		/* Nowhere left to report it. */
	}
	errno = saved;
}

void
log_emit(enum log_level lvl, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	log_vemit(lvl, fmt, ap);
	va_end(ap);
}

/* Like log_warnx, with ": strerror(errno)" appended. */
void
log_warn(const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_emit(LOG_LVL_WARN, "%s: %s", buf, strerror(saved));
}

#define LOG_FN(name, lvl)				\
void							\
name(const char *fmt, ...)				\
{							\
	va_list	ap;					\
							\
	va_start(ap, fmt);				\
	log_vemit(lvl, fmt, ap);			\
	va_end(ap);					\
}
LOG_FN(log_warnx, LOG_LVL_WARN)
LOG_FN(log_error, LOG_LVL_ERROR)
LOG_FN(log_info, LOG_LVL_INFO)
LOG_FN(log_debug, LOG_LVL_DEBUG)

__dead void
fatal(const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;
	int	saved = errno;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_emit(LOG_LVL_ERROR, "fatal: %s: %s", buf, strerror(saved));
	exit(1);
}

__dead void
fatalx(const char *fmt, ...)
{
	char	buf[1024];
	va_list	ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	log_emit(LOG_LVL_ERROR, "fatal: %s", buf);
	exit(1);
}
