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
 * The integration fixture, and the helpers the suites (check_integ,
 * check_tls, check_dtls) share.  Check runs each test in a forked child
 * and, on a failed assertion, leaves that child with _exit(): no teardown
 * runs.  So the scratch directory belongs to the runner (unchecked
 * fixtures), the daemons and other children die with the test child
 * (PR_SET_PDEATHSIG), and the checked teardown, which runs only after a
 * pass, leaves a "passed" marker.  The runner dumps the daemons' logs when
 * the marker is missing, so a failure, a crash or a timeout in CI always
 * shows what flowgate said.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE 1
#endif

#include <sys/types.h>
#include <sys/queue.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#ifdef __linux__
#include <sys/prctl.h>
#endif

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/udp.h>

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <poll.h>
#include <pthread.h>
#include <regex.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "integ.h"
#include "proto/stream_header.h"

#ifndef INTEG_FLOWGATE_DEFAULT
#define INTEG_FLOWGATE_DEFAULT	"/work/main/src/flowgate"
#endif
#define INTEG_START_MS		5000	/* port file must appear by then */
#define INTEG_DUMP_MAX		(256 * 1024)	/* log bytes shown on failure */
#define INTEG_POLL_MS		20	/* file polling interval */

struct integ	integ = { .pid = -1 };

/*
 * Scratch directory and files
 */

/* Unchecked setup, in the runner: one fresh directory per TCase. */
void
integ_setup(void)
{
	const char	*tmp;

	memset(&integ, 0, sizeof(integ));
	integ.pid = -1;
	if ((tmp = getenv("TMPDIR")) == NULL || *tmp == '\0')
		tmp = "/tmp";
	snprintf(integ.dir, sizeof(integ.dir), "%s/fg-integ.XXXXXX", tmp);
	if (mkdtemp(integ.dir) == NULL) {
		/* Asserting here would end the runner; the test reports it. */
		fprintf(stderr, "mkdtemp %s: %s\n", integ.dir, strerror(errno));
		integ.dir[0] = '\0';
		return;
	}
	integ_path("flowgate.yml", integ.conf, sizeof(integ.conf));
	integ_path("ports", integ.portfile, sizeof(integ.portfile));
	integ_path("flowgate.log", integ.logfile, sizeof(integ.logfile));
}

void
integ_path(const char *name, char *buf, size_t size)
{
	int	n;

	n = snprintf(buf, size, "%s/%s", integ.dir, name);
	if (n < 0 || (size_t)n >= size)
		buf[0] = '\0';
}

/* Show one file on stderr, its tail if it is long. */
static void
integ_dump_file(const char *path, const char *name)
{
	char	*buf;
	size_t	 len, off = 0;

	if ((buf = integ_read_file(path, &len)) == NULL)
		return;
	if (len > INTEG_DUMP_MAX)
		off = len - INTEG_DUMP_MAX;
	fprintf(stderr, "==== %s (%s)%s ====\n", name, integ.dir,
	    off > 0 ? ", tail" : "");
	fwrite(buf + off, 1, len - off, stderr);
	if (len > 0 && buf[len - 1] != '\n')
		fputc('\n', stderr);
	fprintf(stderr, "==== end of %s ====\n", name);
	free(buf);
}

/* Dump the daemon's log and every captured command output. */
static void
integ_dump(void)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[512];
	size_t		 n;

	integ_dump_file(integ.logfile, "flowgate.log");
	if ((d = opendir(integ.dir)) == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		n = strlen(de->d_name);
		if (n < 5 || (strcmp(de->d_name + n - 4, ".out") != 0 &&
		    strcmp(de->d_name + n - 4, ".err") != 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", integ.dir, de->d_name);
		integ_dump_file(path, de->d_name);
	}
	closedir(d);
}

/* Unchecked teardown, in the runner: dump on failure, remove the dir. */
void
integ_teardown(void)
{
	DIR		*d;
	struct dirent	*de;
	char		 path[512];
	const char	*fork_env;
	int		 passed;

	if (integ.dir[0] == '\0')
		return;
	integ_path("passed", path, sizeof(path));
	passed = access(path, F_OK) == 0;
	/* Without fork mode the checked teardown runs even on failure. */
	fork_env = getenv("CK_FORK");
	if (fork_env != NULL && strcmp(fork_env, "no") == 0)
		passed = 0;
	if (!passed)
		integ_dump();
	if (getenv("INTEG_KEEP") != NULL) {
		fprintf(stderr, "integ: kept %s\n", integ.dir);
		return;
	}
	/* The directory is flat: files only. */
	if ((d = opendir(integ.dir)) != NULL) {
		while ((de = readdir(d)) != NULL) {
			if (strcmp(de->d_name, ".") == 0 ||
			    strcmp(de->d_name, "..") == 0)
				continue;
			snprintf(path, sizeof(path), "%s/%s", integ.dir,
			    de->d_name);
			unlink(path);
		}
		closedir(d);
	}
	rmdir(integ.dir);
	integ.dir[0] = '\0';
}

/* Checked teardown, in the test child; reached only when the test passed. */
void
integ_checked_teardown(void)
{
	char	path[512];
	int	fd;

	integ_daemon_kill();
	integ_path("passed", path, sizeof(path));
	if ((fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) != -1)
		close(fd);
}

/* A TCase of s with the fixtures above, in fork mode as always. */
TCase *
integ_tcase(Suite *s, const char *name, int timeout)
{
	TCase	*tc;

	tc = tcase_create(name);
	tcase_add_unchecked_fixture(tc, integ_setup, integ_teardown);
	tcase_add_checked_fixture(tc, NULL, integ_checked_teardown);
	tcase_set_timeout(tc, timeout);
	suite_add_tcase(s, tc);
	return (tc);
}

/* Run s, then free it; the exit status for main. */
int
integ_suite_run(Suite *s)
{
	SRunner	*sr;
	int	 nfail;

	/* Writes to closed sockets and pipes fail with EPIPE instead. */
	signal(SIGPIPE, SIG_IGN);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	nfail = srunner_ntests_failed(sr);
	srunner_free(sr);
	return (nfail == 0 ? EXIT_SUCCESS : EXIT_FAILURE);
}

static void	integ_vwrite(const char *, const char *, va_list)
		    INTEG_PRINTF(2, 0);

/* Write a whole file atomically: readers see the old or the new one. */
static void
integ_vwrite(const char *path, const char *fmt, va_list ap)
{
	char	 tmp[512];
	FILE	*f;
	int	 rc;

	ck_assert_msg(integ.dir[0] != '\0', "no scratch directory");
	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	ck_assert_msg(f != NULL, "%s: %s", tmp, strerror(errno));
	rc = vfprintf(f, fmt, ap);
	ck_assert_msg(rc >= 0, "%s: write failed", tmp);
	ck_assert_msg(fclose(f) == 0, "%s: %s", tmp, strerror(errno));
	ck_assert_msg(rename(tmp, path) == 0, "rename %s: %s", path,
	    strerror(errno));
}

void
integ_write(const char *path, const char *fmt, ...)
{
	va_list	ap;

	va_start(ap, fmt);
	integ_vwrite(path, fmt, ap);
	va_end(ap);
}

/* Read a whole file; the result is NUL-terminated, the caller frees it. */
char *
integ_read_file(const char *path, size_t *lenp)
{
	struct stat	 st;
	char		*buf;
	size_t		 len = 0;
	ssize_t		 n;
	int		 fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		return (NULL);
	if (fstat(fd, &st) == -1 || (buf = malloc((size_t)st.st_size + 1)) ==
	    NULL) {
		close(fd);
		return (NULL);
	}
	/* The file may grow while we read; take what fstat saw. */
	while (len < (size_t)st.st_size) {
		n = read(fd, buf + len, (size_t)st.st_size - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	if (lenp != NULL)
		*lenp = len;
	return (buf);
}

/*
 * The daemon
 */

const char *
integ_flowgate(void)
{
	const char	*p;

	if ((p = getenv("FLOWGATE")) != NULL && *p != '\0')
		return (p);
	if (access("src/flowgate", X_OK) == 0)
		return ("src/flowgate");
	return (INTEG_FLOWGATE_DEFAULT);
}

const char *
integ_status_str(int status, char *buf, size_t size)
{
	if (WIFEXITED(status))
		snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, size, "killed by signal %d (%s)",
		    WTERMSIG(status), strsignal(WTERMSIG(status)));
	else
		snprintf(buf, size, "wait status 0x%x", status);
	return (buf);
}

/*
 * Fork and exec argv with fd0, fd1 and fd2 as its stdin, stdout and
 * stderr; search looks argv[0] up in PATH.  The child dies with the test
 * (PR_SET_PDEATHSIG) and gets none of the test's other descriptors and
 * SIGPIPE at its default.  Between fork and exec only async-signal-safe
 * calls are made: the echo threads may hold locks.  The three descriptors
 * stay the caller's.
 */
static pid_t
integ_fork_exec(const char *const argv[], int fd0, int fd1, int fd2,
    int search)
{
	static const char msg[] = "integ: exec failed\n";
	struct sigaction sa;
	pid_t		 parent = getpid(), pid;
	long		 maxfd;
	int		 fd;

	maxfd = sysconf(_SC_OPEN_MAX);
	if (maxfd < 0 || maxfd > 65536)
		maxfd = 65536;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = SIG_DFL;
	sigemptyset(&sa.sa_mask);

	pid = fork();
	ck_assert_msg(pid != -1, "fork: %s", strerror(errno));
	if (pid == 0) {
#ifdef __linux__
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) == -1 ||
		    getppid() != parent)
			_exit(127);
#else
		(void)parent;
#endif
		if (dup2(fd0, 0) == -1 || dup2(fd1, 1) == -1 ||
		    dup2(fd2, 2) == -1)
			_exit(127);
		for (fd = 3; fd < maxfd; fd++)
			close(fd);
		sigaction(SIGPIPE, &sa, NULL);
		if (search)
			execvp(argv[0], (char *const *)argv);
		else
			execv(argv[0], (char *const *)argv);
		if (write(2, msg, sizeof(msg) - 1) == -1)
			_exit(127);
		_exit(127);
	}
	return (pid);
}

/* Run argv with stdin from /dev/null, stdout and stderr to the files. */
static pid_t
integ_spawn(const char *const argv[], const char *out, const char *err)
{
	pid_t	pid;
	int	ofd, efd, nfd;

	ofd = open(out, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ck_assert_msg(ofd != -1, "%s: %s", out, strerror(errno));
	efd = open(err, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	ck_assert_msg(efd != -1, "%s: %s", err, strerror(errno));
	nfd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	ck_assert_msg(nfd != -1, "/dev/null: %s", strerror(errno));
	pid = integ_fork_exec(argv, nfd, ofd, efd, 0);
	close(ofd);
	close(efd);
	close(nfd);
	return (pid);
}

/* Start `flowgate run -c conf -v -P portfile`; wait for its port file. */
void
integ_daemon_start(void)
{
	const char	*argv[8], *bin;
	char		 sbuf[64];
	uint64_t	 deadline;
	struct stat	 st;
	int		 status;

	ck_assert_msg(integ.dir[0] != '\0', "no scratch directory");
	ck_assert_msg(integ.pid == -1, "daemon already running");
	bin = integ_flowgate();
	ck_assert_msg(access(bin, X_OK) == 0, "FLOWGATE=%s: %s", bin,
	    strerror(errno));
	unlink(integ.portfile);
	argv[0] = bin;
	argv[1] = "run";
	argv[2] = "-c";
	argv[3] = integ.conf;
	argv[4] = "-v";
	argv[5] = "-P";
	argv[6] = integ.portfile;
	argv[7] = NULL;
	integ.pid = integ_spawn(argv, integ.logfile, integ.logfile);

	deadline = integ_now_ms() + INTEG_START_MS;
	for (;;) {
		if (stat(integ.portfile, &st) == 0 && st.st_size > 0)
			break;
		if (waitpid(integ.pid, &status, WNOHANG) == integ.pid) {
			integ.pid = -1;
			integ.status = status;
			ck_abort_msg("flowgate exited during startup: %s",
			    integ_status_str(status, sbuf, sizeof(sbuf)));
		}
		ck_assert_msg(integ_now_ms() < deadline,
		    "no port file %s after %d ms", integ.portfile,
		    INTEG_START_MS);
		integ_sleep_ms(10);
	}
}

void
integ_daemon_signal(int sig)
{
	ck_assert_msg(integ.pid > 0, "daemon not running");
	ck_assert_msg(kill(integ.pid, sig) == 0, "kill %d: %s", sig,
	    strerror(errno));
}

/* Wait for the daemon to exit; its wait status, or -1 on timeout. */
int
integ_daemon_wait(int timeout_ms)
{
	uint64_t	deadline;
	pid_t		r;
	int		status;

	if (integ.pid <= 0)
		return (integ.status);
	deadline = integ_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		r = waitpid(integ.pid, &status, WNOHANG);
		if (r == integ.pid) {
			integ.pid = -1;
			integ.status = status;
			return (status);
		}
		if (r == -1 && errno != EINTR) {
			integ.pid = -1;
			integ.status = -1;
			return (-1);
		}
		if (integ_now_ms() >= deadline)
			return (-1);
		integ_sleep_ms(5);
	}
}

/* True while the daemon has not exited (reaps it if it has). */
int
integ_daemon_running(void)
{
	if (integ.pid <= 0)
		return (0);
	return (integ_daemon_wait(0) == -1 && integ.pid > 0);
}

/* SIGTERM, then assert exit status 0 within timeout_ms. */
void
integ_daemon_stop_ok(int timeout_ms)
{
	char	sbuf[64];
	int	status;

	ck_assert_msg(integ.pid > 0, "daemon not running (it died: %s)",
	    integ_status_str(integ.status, sbuf, sizeof(sbuf)));
	integ_daemon_signal(SIGTERM);
	status = integ_daemon_wait(timeout_ms);
	ck_assert_msg(status != -1, "flowgate still running %d ms after "
	    "SIGTERM", timeout_ms);
	ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0,
	    "flowgate after SIGTERM: %s",
	    integ_status_str(status, sbuf, sizeof(sbuf)));
}

/* SIGKILL the daemon if it still runs; never blocks for long. */
void
integ_daemon_kill(void)
{
	if (integ.pid <= 0)
		return;
	kill(integ.pid, SIGKILL);
	if (integ_daemon_wait(5000) == -1)
		integ.pid = -1;
}

/*
 * Run a command to completion with its output captured in the scratch
 * directory (cmd.out, cmd.err, shown on failure).  Returns the wait status,
 * or -1 if it had to be killed after timeout_ms.  *out and *err are
 * malloc'd and NUL-terminated.
 */
int
integ_run(const char *const argv[], int timeout_ms, char **out, char **err)
{
	char		 opath[512], epath[512];
	uint64_t	 deadline;
	pid_t		 pid, r;
	int		 status = -1;

	integ_path("cmd.out", opath, sizeof(opath));
	integ_path("cmd.err", epath, sizeof(epath));
	unlink(opath);
	unlink(epath);
	pid = integ_spawn(argv, opath, epath);
	deadline = integ_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		r = waitpid(pid, &status, WNOHANG);
		if (r == pid)
			break;
		if (r == -1 && errno != EINTR) {
			status = -1;
			break;
		}
		if (integ_now_ms() >= deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, NULL, 0);
			status = -1;
			break;
		}
		integ_sleep_ms(5);
	}
	*out = integ_read_file(opath, NULL);
	*err = integ_read_file(epath, NULL);
	ck_assert_msg(*out != NULL && *err != NULL, "cannot read output");
	return (status);
}

/*
 * For failure messages: errno's text and whether the daemon still runs.
 * The buffer is static: one call per message.
 */
const char *
integ_io_state(void)
{
	static char	buf[160];
	char		sbuf[64];
	int		saved = errno;

	if (integ_daemon_running())
		snprintf(buf, sizeof(buf), "%s (flowgate is running)",
		    strerror(saved));
	else
		snprintf(buf, sizeof(buf), "%s (flowgate is gone: %s)",
		    strerror(saved), integ_status_str(integ.status, sbuf,
		    sizeof(sbuf)));
	errno = saved;
	return (buf);
}

/*
 * The second daemon
 */

struct integ	integ_cli = { .pid = -1 };

void
integ_cli_swap(void)
{
	struct integ	t = integ;

	integ = integ_cli;
	integ_cli = t;
}

/*
 * Write the client daemon's configuration (client.yml) and start it, as
 * integ_daemon_start does.  Its log ends in .err, so the runner shows it
 * on failure.
 */
void
integ_cli_start(const char *fmt, ...)
{
	va_list	ap;

	integ_cli = integ;
	integ_cli.pid = -1;
	integ_cli.status = 0;
	integ_path("client.yml", integ_cli.conf, sizeof(integ_cli.conf));
	integ_path("client.ports", integ_cli.portfile,
	    sizeof(integ_cli.portfile));
	integ_path("client-flowgate.err", integ_cli.logfile,
	    sizeof(integ_cli.logfile));
	integ_cli_swap();
	va_start(ap, fmt);
	integ_vwrite(integ.conf, fmt, ap);
	va_end(ap);
	integ_daemon_start();
	integ_cli_swap();
}

/* The port the client daemon's service name listens on (asserted). */
uint16_t
integ_cli_port(const char *name, const char *scheme)
{
	struct sockaddr_storage	ss;
	socklen_t		len;

	integ_cli_swap();
	integ_service_get(name, scheme, &ss, &len);
	integ_cli_swap();
	return (integ_addr_port(&ss));
}

int
integ_cli_log_wait(const char *ere, int timeout_ms, char *line,
    size_t linesz)
{
	int	rc;

	integ_cli_swap();
	rc = integ_log_wait(0, ere, timeout_ms, line, linesz);
	integ_cli_swap();
	return (rc);
}

int
integ_cli_log_wait_count(const char *ere, int n, int timeout_ms)
{
	int	rc;

	integ_cli_swap();
	rc = integ_log_wait_count(0, ere, n, timeout_ms);
	integ_cli_swap();
	return (rc);
}

/* integ_closed_line in the client daemon's log. */
void
integ_cli_closed_line(const char *service, unsigned port, char *line,
    size_t linesz, const char *what)
{
	integ_cli_swap();
	integ_closed_line(service, port, line, linesz, what);
	integ_cli_swap();
}

void
integ_cli_stop_ok(int timeout_ms)
{
	integ_cli_swap();
	integ_daemon_stop_ok(timeout_ms);
	integ_cli_swap();
}

/*
 * The end of a tunnel case: the client daemon and the server daemon each
 * exit 0 on SIGTERM within INTEG_STOP_MS, then the echo server stops.
 */
void
integ_tunnel_stop_ok(struct integ_echo *echo)
{
	integ_cli_stop_ok(INTEG_STOP_MS);
	integ_daemon_stop_ok(INTEG_STOP_MS);
	integ_echo_stop(echo);
}

/*
 * Child processes
 */

/* Start argv (looked up in PATH) with a pipe on each of its stdio. */
void
integ_proc_start(struct integ_proc *p, const char *const argv[])
{
	int	pin[2], pout[2], perr[2];

	ck_assert(pipe2(pin, O_CLOEXEC) == 0 && pipe2(pout, O_CLOEXEC) == 0 &&
	    pipe2(perr, O_CLOEXEC) == 0);
	p->pid = integ_fork_exec(argv, pin[0], pout[1], perr[1], 1);
	close(pin[0]);
	close(pout[1]);
	close(perr[1]);
	p->in = pin[1];
	p->out = pout[0];
	p->err = perr[0];
}

/* Write all of buf to a pipe or a blocking socket (asserted). */
void
integ_fd_write_all(int fd, const void *buf, size_t len, const char *what)
{
	const char	*p = buf;
	ssize_t		 n;

	while (len > 0) {
		n = write(fd, p, len);
		if (n == -1 && errno == EINTR)
			continue;
		ck_assert_msg(n > 0, "%s: write: %s", what, strerror(errno));
		p += n;
		len -= (size_t)n;
	}
}

/*
 * Read from a pipe: exactly len bytes, or with until_eof up to len bytes
 * until EOF, NUL-terminated (buf then holds len + 1); bounded by
 * timeout_ms.
 */
size_t
integ_fd_read(int fd, void *buf, size_t len, int timeout_ms, int until_eof)
{
	struct pollfd	 pfd;
	char		*p = buf;
	uint64_t	 deadline, now;
	size_t		 got = 0;
	ssize_t		 n;

	deadline = integ_now_ms() + (uint64_t)timeout_ms;
	while (got < len && (now = integ_now_ms()) < deadline) {
		pfd.fd = fd;
		pfd.events = POLLIN;
		if (poll(&pfd, 1, (int)(deadline - now)) <= 0)
			continue;
		n = read(fd, p + got, len - got);
		if (n == -1 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	if (until_eof)
		p[got] = '\0';
	return (got);
}

/*
 * Close the child's stdin, stop it (SIGTERM if term), collect its stderr
 * into errbuf and reap it (SIGKILL after INTEG_IO_MS).  Returns its wait
 * status, or -1 if it had to be killed; its pipes are closed.
 */
int
integ_proc_finish(struct integ_proc *p, int term, char *errbuf,
    size_t errsize)
{
	uint64_t	deadline;
	pid_t		r;
	int		status = -1;

	if (p->in != -1)
		close(p->in);
	p->in = -1;
	if (term)
		kill(p->pid, SIGTERM);
	integ_fd_read(p->err, errbuf, errsize - 1, INTEG_IO_MS, 1);
	deadline = integ_now_ms() + INTEG_IO_MS;
	for (;;) {
		r = waitpid(p->pid, &status, WNOHANG);
		if (r == p->pid)
			break;
		if (integ_now_ms() >= deadline || (r == -1 && errno != EINTR)) {
			kill(p->pid, SIGKILL);
			waitpid(p->pid, NULL, 0);
			status = -1;
			break;
		}
		integ_sleep_ms(5);
	}
	close(p->out);
	close(p->err);
	return (status);
}

/*
 * `openssl s_client -quiet` (with dtls, -dtls1_2) against 127.0.0.1:port,
 * trusting ca.  alpn, and cert with its key, may be NULL.
 */
void
integ_sclient_start(struct integ_proc *p, int dtls, uint16_t port,
    const char *alpn, const char *cert, const char *key, const char *ca)
{
	const char	*argv[16];
	char		 connect[32];
	int		 i = 0;

	snprintf(connect, sizeof(connect), "127.0.0.1:%u", (unsigned)port);
	argv[i++] = "openssl";
	argv[i++] = "s_client";
	if (dtls)
		argv[i++] = "-dtls1_2";
	argv[i++] = "-connect";
	argv[i++] = connect;
	if (alpn != NULL) {
		argv[i++] = "-alpn";
		argv[i++] = alpn;
	}
	if (cert != NULL) {
		argv[i++] = "-cert";
		argv[i++] = cert;
		argv[i++] = "-key";
		argv[i++] = key;
	}
	argv[i++] = "-CAfile";
	argv[i++] = ca;
	argv[i++] = "-quiet";
	argv[i] = NULL;
	integ_proc_start(p, argv);
}

/*
 * Certificates, probes, stream headers
 */

/*
 * `flowgate certs` into PREFIX.d, then each file moved up to PREFIX-NAME;
 * the keys must have no group or other access.
 */
void
integ_pki_make(struct integ_pki *p, const char *prefix)
{
	static const char *const names[] = {
		"ca.crt", "ca.key", "server.crt", "server.key", "client.crt",
		"client.key"
	};
	char		*const dst[] = {
		p->ca, NULL, p->srv_crt, p->srv_key, p->cli_crt, p->cli_key
	};
	const char	*argv[5];
	char		 sub[INTEG_PATH_MAX], n[64], from[INTEG_PATH_MAX + 32];
	char		 to[INTEG_PATH_MAX], *out, *err, sbuf[64];
	struct stat	 st;
	size_t		 i;
	int		 status;

	snprintf(n, sizeof(n), "%s.d", prefix);
	integ_path(n, sub, sizeof(sub));
	ck_assert_msg(sub[0] != '\0', "no scratch directory");
	argv[0] = integ_flowgate();
	argv[1] = "certs";
	argv[2] = "-d";
	argv[3] = sub;
	argv[4] = NULL;
	status = integ_run(argv, INTEG_RUN_MS, &out, &err);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "flowgate certs -d %s: %s: %s", sub,
	    integ_status_str(status, sbuf, sizeof(sbuf)), err);
	free(out);
	free(err);
	/* The scratch directory stays flat: move the files up. */
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(from, sizeof(from), "%s/%s", sub, names[i]);
		snprintf(n, sizeof(n), "%s-%s", prefix, names[i]);
		integ_path(n, to, sizeof(to));
		ck_assert_msg(stat(from, &st) == 0, "flowgate certs made no "
		    "%s", from);
		if (strstr(names[i], ".key") != NULL)
			ck_assert_msg((st.st_mode & 077) == 0, "%s has mode "
			    "%03o, expected no group or other access", from,
			    (unsigned)(st.st_mode & 0777));
		ck_assert_msg(rename(from, to) == 0, "rename %s: %s", from,
		    strerror(errno));
		if (dst[i] != NULL)
			snprintf(dst[i], INTEG_PATH_MAX, "%s", to);
	}
	ck_assert_msg(rmdir(sub) == 0, "rmdir %s: %s (unexpected files?)", sub,
	    strerror(errno));
}

/*
 * `flowgate probe SCHEME://127.0.0.1:PORT` trusting trust's CA, with id's
 * client certificate; as integ_run.
 */
int
integ_probe_run(const char *scheme, uint16_t port,
    const struct integ_pki *trust, const struct integ_pki *id,
    const char *timeout, char **out, char **err)
{
	const char	*argv[13];
	char		 url[64];

	snprintf(url, sizeof(url), "%s://127.0.0.1:%u", scheme,
	    (unsigned)port);
	argv[0] = integ_flowgate();
	argv[1] = "probe";
	argv[2] = "-a";
	argv[3] = trust->ca;
	argv[4] = "-c";
	argv[5] = id->cli_crt;
	argv[6] = "-k";
	argv[7] = id->cli_key;
	argv[8] = "-t";
	argv[9] = timeout;
	argv[10] = url;
	argv[11] = NULL;
	return (integ_run(argv, INTEG_RUN_MS, out, err));
}

/*
 * `flowgate probe` of the fixture's service at SCHEME://127.0.0.1:port,
 * with p's CA and client certificate, must exit 0 printing "OK ...
 * latency=", and the daemon must log the health check, then close that
 * flow with reason=health and no destination; the flow closed line is
 * copied to line.
 */
void
integ_probe_ok(const char *scheme, uint16_t port, const char *service,
    const struct integ_pki *p, char *line, size_t linesz)
{
	char		 re[INTEG_RE_MAX], want[96], sbuf[64], *out, *err;
	long long	 id;
	int		 status;

	status = integ_probe_run(scheme, port, p, p, "5s", &out, &err);
	ck_assert_msg(status != -1 && WIFEXITED(status) &&
	    WEXITSTATUS(status) == 0, "probe of the server: %s; stdout: %s "
	    "stderr: %s", integ_status_str(status, sbuf, sizeof(sbuf)), out,
	    err);
	snprintf(want, sizeof(want), "OK %s://127.0.0.1:%u latency=", scheme,
	    (unsigned)port);
	ck_assert_msg(strncmp(out, want, strlen(want)) == 0, "probe printed "
	    "\"%s\", expected \"%s...\"", out, want);
	free(out);
	free(err);
	snprintf(re, sizeof(re), "info health check received service=%s "
	    "flow=[0-9]+$", service);
	ck_assert_msg(integ_log_wait(0, re, INTEG_LOG_MS, line, linesz) == 0,
	    "no \"health check received\" line");
	id = integ_field_num(line, "flow");
	snprintf(re, sizeof(re), "flow closed service=%s flow=%lld ", service,
	    id);
	ck_assert_msg(integ_log_wait(0, re, INTEG_LOG_MS, line, linesz) == 0,
	    "no flow closed line for the health check (flow %lld)", id);
	integ_assert_field(line, "reason", "health");
	integ_assert_field(line, "dst", "-");
}

/* The stream header (SH_SIZE bytes) asking for 127.0.0.1:port. */
void
integ_stream_header(uint16_t port, uint8_t *hdr)
{
	const char	*errstr = NULL;
	char		 p[8];

	snprintf(p, sizeof(p), "%u", (unsigned)port);
	ck_assert_msg(sh_build("127.0.0.1", p, 0, hdr, &errstr) == 0,
	    "sh_build 127.0.0.1:%s: %s", p, errstr);
}

/*
 * In-process TLS and DTLS clients
 */

/* Describe a failed SSL call in c->err: the OpenSSL queue, else errno. */
void
integ_ssl_fail(struct integ_ssl *c, const char *what, int se, int syserr)
{
	unsigned long	e;
	size_t		off;
	int		n = 0;

	off = (size_t)snprintf(c->err, sizeof(c->err), "%s:", what);
	while ((e = ERR_get_error()) != 0 && off + 2 < sizeof(c->err)) {
		c->err[off++] = ' ';
		ERR_error_string_n(e, c->err + off, sizeof(c->err) - off);
		off += strlen(c->err + off);
		n++;
	}
	if (n == 0)
		snprintf(c->err + off, sizeof(c->err) - off, " ssl_error=%d "
		    "%s", se, syserr != 0 ? strerror(syserr) : "EOF");
}

/* Send close_notify; the peer may still send until its own. */
void
integ_ssl_shutdown(struct integ_ssl *c)
{
	ERR_clear_error();
	ck_assert_msg(SSL_shutdown(c->ssl) >= 0, "SSL_shutdown failed");
}

/* Free the session, the socket and the context; safe to call twice. */
void
integ_ssl_close(struct integ_ssl *c)
{
	if (c->ssl != NULL)
		SSL_free(c->ssl);
	if (c->fd != -1)
		close(c->fd);
	if (c->ctx != NULL)
		SSL_CTX_free(c->ctx);
	c->ssl = NULL;
	c->ctx = NULL;
	c->fd = -1;
}

/*
 * The port file
 */

/* Parse "ADDR:PORT" or "[ADDR6]:PORT" into a socket address. */
static int
integ_parse_hostport(const char *s, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;
	char			 host[128], *end;
	const char		*p, *colon;
	unsigned long		 port;
	size_t			 n;

	if (*s == '[') {
		if ((p = strchr(s, ']')) == NULL || p[1] != ':')
			return (-1);
		n = (size_t)(p - s - 1);
		s++;
		colon = p + 1;
	} else {
		if ((colon = strrchr(s, ':')) == NULL)
			return (-1);
		n = (size_t)(colon - s);
	}
	if (n == 0 || n >= sizeof(host))
		return (-1);
	memcpy(host, s, n);
	host[n] = '\0';
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno != 0 || *end != '\0' || port == 0 || port > 65535)
		return (-1);
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, host, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		*len = sizeof(*sin);
	} else if (inet_pton(AF_INET6, host, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		*len = sizeof(*sin6);
	} else
		return (-1);
	return (0);
}

/* Look NAME up in the port file: 0 if found, -1 if not (yet). */
int
integ_service_addr(const char *name, char *scheme, size_t schemesz,
    struct sockaddr_storage *ss, socklen_t *len)
{
	FILE	*f;
	char	 line[512], n[128], s[32], a[160];
	int	 found = -1;

	if ((f = fopen(integ.portfile, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, "%127s %31s %159s", n, s, a) != 3 ||
		    strcmp(n, name) != 0)
			continue;
		if (integ_parse_hostport(a, ss, len) == 0) {
			if (scheme != NULL)
				snprintf(scheme, schemesz, "%s", s);
			found = 0;
		}
		break;
	}
	fclose(f);
	return (found);
}

/* Assert that the port file lists NAME with SCHEME and a usable port. */
void
integ_service_get(const char *name, const char *scheme,
    struct sockaddr_storage *ss, socklen_t *len)
{
	char	s[32];

	ck_assert_msg(integ_service_addr(name, s, sizeof(s), ss, len) == 0,
	    "port file %s has no valid line for service %s", integ.portfile,
	    name);
	ck_assert_msg(strcmp(s, scheme) == 0, "service %s: scheme %s, "
	    "expected %s", name, s, scheme);
	ck_assert_msg(integ_addr_port(ss) != 0, "service %s: port 0", name);
}

/* Like integ_service_get, waiting up to timeout_ms for the line. */
void
integ_service_wait(const char *name, const char *scheme, int timeout_ms,
    struct sockaddr_storage *ss, socklen_t *len)
{
	uint64_t	deadline;

	deadline = integ_now_ms() + (uint64_t)timeout_ms;
	while (integ_service_addr(name, NULL, 0, ss, len) != 0 &&
	    integ_now_ms() < deadline)
		integ_sleep_ms(INTEG_POLL_MS);
	integ_service_get(name, scheme, ss, len);
}

/*
 * The log
 */

/* The log's current size: pass it as `from` to see only later lines. */
size_t
integ_log_mark(void)
{
	struct stat	st;

	if (stat(integ.logfile, &st) == -1)
		return (0);
	return ((size_t)st.st_size);
}

/* The log from byte `from` on, NUL-terminated; never NULL. */
char *
integ_log_read(size_t from)
{
	char	*buf;
	size_t	 len;

	if ((buf = integ_read_file(integ.logfile, &len)) == NULL)
		buf = strdup("");
	ck_assert_msg(buf != NULL, "out of memory");
	if (from > 0) {
		if (from > len)
			from = len;
		memmove(buf, buf + from, len - from + 1);
	}
	return (buf);
}

/*
 * Match re against each whole line of text.  Returns the number of
 * matching lines; the first is copied to line.
 */
static int
integ_scan(char *text, regex_t *re, char *line, size_t linesz)
{
	char	*p, *nl;
	int	 count = 0;

	for (p = text; *p != '\0'; p = nl + 1) {
		if ((nl = strchr(p, '\n')) == NULL)
			break;	/* a partial last line: not yet written */
		*nl = '\0';
		if (regexec(re, p, 0, NULL, 0) == 0) {
			if (count++ == 0 && line != NULL)
				snprintf(line, linesz, "%s", p);
		}
		*nl = '\n';
	}
	return (count);
}

static void
integ_regcomp(regex_t *re, const char *ere)
{
	char	err[128];
	int	rc;

	if ((rc = regcomp(re, ere, REG_EXTENDED | REG_NOSUB)) != 0) {
		regerror(rc, re, err, sizeof(err));
		ck_abort_msg("regex \"%s\": %s", ere, err);
	}
}

/* Wait until a line after `from` matches ere: 0, or -1 on timeout. */
int
integ_log_wait(size_t from, const char *ere, int timeout_ms, char *line,
    size_t linesz)
{
	regex_t		 re;
	uint64_t	 deadline;
	char		*text;
	int		 n;

	integ_regcomp(&re, ere);
	deadline = integ_now_ms() + (uint64_t)timeout_ms;
	for (;;) {
		text = integ_log_read(from);
		n = integ_scan(text, &re, line, linesz);
		free(text);
		if (n > 0 || integ_now_ms() >= deadline)
			break;
		integ_sleep_ms(INTEG_POLL_MS);
	}
	regfree(&re);
	return (n > 0 ? 0 : -1);
}

/* How many lines after `from` match ere now. */
int
integ_log_count(size_t from, const char *ere)
{
	regex_t	 re;
	char	*text;
	int	 n;

	integ_regcomp(&re, ere);
	text = integ_log_read(from);
	n = integ_scan(text, &re, NULL, 0);
	free(text);
	regfree(&re);
	return (n);
}

/* Wait until n lines after `from` match ere; returns the last count. */
int
integ_log_wait_count(size_t from, const char *ere, int n, int timeout_ms)
{
	uint64_t	deadline;
	int		count;

	deadline = integ_now_ms() + (uint64_t)timeout_ms;
	while ((count = integ_log_count(from, ere)) < n &&
	    integ_now_ms() < deadline)
		integ_sleep_ms(INTEG_POLL_MS);
	return (count);
}

/* Copy the value of " key=value" in a log line: 0, or -1 if absent. */
int
integ_field(const char *line, const char *key, char *val, size_t size)
{
	const char	*p;
	size_t		 klen = strlen(key), n;

	for (p = line; (p = strstr(p, key)) != NULL; p += klen) {
		if (p == line || p[-1] != ' ' || p[klen] != '=')
			continue;
		p += klen + 1;
		n = strcspn(p, " \n");
		if (n >= size)
			return (-1);
		memcpy(val, p, n);
		val[n] = '\0';
		return (0);
	}
	return (-1);
}

/* A numeric field, or -1 if absent or not a number. */
long long
integ_field_num(const char *line, const char *key)
{
	char		 val[64], *end;
	long long	 v;

	if (integ_field(line, key, val, sizeof(val)) == -1 || val[0] == '\0')
		return (-1);
	errno = 0;
	v = strtoll(val, &end, 10);
	if (errno != 0 || *end != '\0' || v < 0)
		return (-1);
	return (v);
}

/* Quote every ERE special character of s. */
const char *
integ_re_escape(const char *s, char *buf, size_t size)
{
	size_t	n = 0;

	for (; *s != '\0' && n + 3 < size; s++) {
		if (strchr("\\^$.|?*+()[]{}", *s) != NULL)
			buf[n++] = '\\';
		buf[n++] = *s;
	}
	buf[n] = '\0';
	return (buf);
}

/* An ERE for the "flow closed" line of service's flow from peer:port. */
const char *
integ_re_closed(char *buf, size_t size, const char *service,
    const char *peer, unsigned port)
{
	char	esc[128];

	snprintf(buf, size, "flow closed service=%s flow=[0-9]+ peer=%s:%u ",
	    service, integ_re_escape(peer, esc, sizeof(esc)), port);
	return (buf);
}

/*
 * Wait for the "flow closed" line of service's flow from 127.0.0.1:port
 * and copy it to line; what names that flow if there is none.
 */
void
integ_closed_line(const char *service, unsigned port, char *line,
    size_t linesz, const char *what)
{
	char	re[INTEG_RE_MAX];

	ck_assert_msg(integ_log_wait(0, integ_re_closed(re, sizeof(re),
	    service, "127.0.0.1", port), INTEG_LOG_MS, line, linesz) == 0,
	    "%s: flowgate logged no \"flow closed\" for service %s, peer "
	    "port %u", what, service, port);
}

/* The value of key in a log line must be want. */
void
integ_assert_field(const char *line, const char *key, const char *want)
{
	char	val[256];

	ck_assert_msg(integ_field(line, key, val, sizeof(val)) == 0,
	    "no %s= in log line: %s", key, line);
	ck_assert_msg(strcmp(val, want) == 0, "%s=%s, expected %s in: %s", key,
	    val, want, line);
}

/* The value of key in a log line must match the ERE ere, whole. */
void
integ_assert_field_re(const char *line, const char *key, const char *ere)
{
	regex_t	rx;
	char	val[256], re[INTEG_RE_MAX];

	ck_assert_msg(integ_field(line, key, val, sizeof(val)) == 0,
	    "no %s= in log line: %s", key, line);
	snprintf(re, sizeof(re), "^%s$", ere);
	ck_assert_msg(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) == 0,
	    "bad regex %s", re);
	ck_assert_msg(regexec(&rx, val, 0, NULL, 0) == 0, "%s=%s, expected "
	    "%s in: %s", key, val, ere, line);
	regfree(&rx);
}

/* The numeric value of key in a log line must be want. */
void
integ_assert_num(const char *line, const char *key, long long want)
{
	long long	v;

	v = integ_field_num(line, key);
	ck_assert_msg(v == want, "%s=%lld, expected %lld in: %s", key, v, want,
	    line);
}

/*
 * Sockets
 */

int
integ_have_ipv6(void)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			fd, ok;

	if ((fd = socket(AF_INET6, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return (0);
	integ_addr(AF_INET6, 0, &ss, &len);
	ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
	close(fd);
	return (ok);
}

/* The loopback address of family with port. */
void
integ_addr(int family, uint16_t port, struct sockaddr_storage *ss,
    socklen_t *len)
{
	struct sockaddr_in	*sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6	*sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET6) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = in6addr_loopback;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
	} else {
		sin->sin_family = AF_INET;
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
	}
}

uint16_t
integ_addr_port(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET6)
		return (ntohs(((const struct sockaddr_in6 *)ss)->sin6_port));
	return (ntohs(((const struct sockaddr_in *)ss)->sin_port));
}

uint16_t
integ_local_port(int fd)
{
	struct sockaddr_storage	ss;
	socklen_t		len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1)
		return (0);
	return (integ_addr_port(&ss));
}

/* Whether port can be bound on loopback now, as a socket of type. */
static int
integ_port_free(int family, int type, uint16_t port)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			fd, ok;

	if ((fd = socket(family, type | SOCK_CLOEXEC, 0)) == -1)
		return (0);
	integ_addr(family, port, &ss, &len);
	ok = bind(fd, (struct sockaddr *)&ss, len) == 0;
	close(fd);
	return (ok);
}

/*
 * A port nothing uses, for TCP and UDP: taken below the ephemeral range,
 * so that no socket bound to port 0 (other tests running in parallel, the
 * daemons' own egress sockets) can get it while the test counts on it
 * being dead.
 */
uint16_t
integ_unused_port(int family)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	FILE			*fp;
	uint64_t		x;
	unsigned		lo = 32768, hi;
	uint16_t		port;
	int			fd, i;

	if ((fp = fopen("/proc/sys/net/ipv4/ip_local_port_range",
	    "r")) != NULL) {
		if (fscanf(fp, "%u %u", &lo, &hi) != 2)
			lo = 32768;
		fclose(fp);
	}
	x = integ_now_ms() * 2654435761u ^ (uint64_t)getpid() << 16;
	for (i = 0; lo > 10100 && i < 200; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		port = (uint16_t)(10000 + x % (lo - 10000));
		if (integ_port_free(family, SOCK_STREAM, port) &&
		    integ_port_free(family, SOCK_DGRAM, port))
			return (port);
	}
	/* No room below the ephemeral range: one from it, as before. */
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_msg(fd != -1, "socket: %s", strerror(errno));
	integ_addr(family, 0, &ss, &len);
	ck_assert_msg(bind(fd, (struct sockaddr *)&ss, len) == 0, "bind: %s",
	    strerror(errno));
	port = integ_local_port(fd);
	close(fd);
	ck_assert_msg(port != 0, "no port");
	return (port);
}

/* A UDP socket bound to loopback port 0, with bigger buffers if asked. */
int
integ_udp_socket(int family, int bufsize)
{
	struct sockaddr_storage	ss;
	socklen_t		len;
	int			fd;

	if ((fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0)) == -1)
		return (-1);
	if (bufsize > 0) {
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize,
		    sizeof(bufsize));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize,
		    sizeof(bufsize));
	}
	integ_addr(family, 0, &ss, &len);
	if (bind(fd, (struct sockaddr *)&ss, len) == -1) {
		close(fd);
		return (-1);
	}
	return (fd);
}

/*
 * Send len bytes to `to` as one segmented (UDP_SEGMENT) super-datagram of
 * seg-byte datagrams, the last possibly shorter: what a GSO sender (another
 * flowgate, a QUIC stack) hands its kernel.  0, or -1 and errno (EINVAL
 * or ENOPROTOOPT where the kernel has no UDP segmentation).
 */
int
integ_send_gso(int fd, const struct sockaddr *to, socklen_t tolen,
    const void *buf, size_t len, uint16_t seg)
{
#ifdef UDP_SEGMENT
	union {
		char		buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr	align;
	}		 cm;
	struct msghdr	 m;
	struct iovec	 iov;
	struct cmsghdr	*c;
	ssize_t		 n;

	iov.iov_base = (void *)(uintptr_t)buf;
	iov.iov_len = len;
	memset(&m, 0, sizeof(m));
	memset(&cm, 0, sizeof(cm));
	m.msg_name = (void *)(uintptr_t)to;
	m.msg_namelen = tolen;
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cm.buf;
	m.msg_controllen = sizeof(cm.buf);
	c = CMSG_FIRSTHDR(&m);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(uint16_t));
	memcpy(CMSG_DATA(c), &seg, sizeof(seg));
	if ((n = sendmsg(fd, &m, 0)) == -1)
		return (-1);
	if ((size_t)n != len) {
		errno = EMSGSIZE;
		return (-1);
	}
	return (0);
#else
	(void)fd;
	(void)to;
	(void)tolen;
	(void)buf;
	(void)len;
	(void)seg;
	errno = ENOPROTOOPT;
	return (-1);
#endif
}

/*
 * Whether this kernel hands a segmented run over whole to a UDP_GRO
 * socket on loopback, so that a test of flowgate's receive offload really
 * exercises it: four 100-byte datagrams sent as one must arrive as one
 * 400-byte read with a UDP_GRO segment size of 100.
 */
int
integ_gro_coalesces(void)
{
#if defined(UDP_SEGMENT) && defined(UDP_GRO)
	union {
		char		buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr	align;
	}			 cm;
	struct sockaddr_storage	 ss;
	struct msghdr		 m;
	struct iovec		 iov;
	struct cmsghdr		*c;
	struct pollfd		 pfd;
	socklen_t		 sl;
	char			 buf[1024];
	ssize_t			 n;
	int			 r, s, on = 1, seg = 0, ok = 0;

	r = integ_udp_socket(AF_INET, 0);
	s = integ_udp_socket(AF_INET, 0);
	if (r == -1 || s == -1 ||
	    setsockopt(r, SOL_UDP, UDP_GRO, &on, sizeof(on)) == -1)
		goto done;
	integ_addr(AF_INET, integ_local_port(r), &ss, &sl);
	memset(buf, 'g', sizeof(buf));
	if (integ_send_gso(s, (struct sockaddr *)&ss, sl, buf, 400, 100) == -1)
		goto done;
	iov.iov_base = buf;
	iov.iov_len = sizeof(buf);
	memset(&m, 0, sizeof(m));
	m.msg_iov = &iov;
	m.msg_iovlen = 1;
	m.msg_control = cm.buf;
	m.msg_controllen = sizeof(cm.buf);
	pfd.fd = r;
	pfd.events = POLLIN;
	if (poll(&pfd, 1, 1000) != 1 || (n = recvmsg(r, &m, MSG_DONTWAIT)) !=
	    400)
		goto done;
	for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c))
		if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO)
			memcpy(&seg, CMSG_DATA(c), sizeof(seg));
	ok = seg == 100;
done:
	if (r != -1)
		close(r);
	if (s != -1)
		close(s);
	return (ok);
#else
	return (0);
#endif
}

/* A blocking TCP connection, made within timeout_ms; -1 and errno. */
int
integ_tcp_connect(const struct sockaddr_storage *ss, socklen_t len,
    int timeout_ms)
{
	struct pollfd	pfd;
	socklen_t	elen = sizeof(int);
	int		fd, flags, err = 0, n;

	fd = socket(ss->ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK,
	    0);
	if (fd == -1)
		return (-1);
	if (connect(fd, (const struct sockaddr *)ss, len) == -1) {
		if (errno != EINPROGRESS) {
			err = errno;
			goto fail;
		}
		pfd.fd = fd;
		pfd.events = POLLOUT;
		while ((n = poll(&pfd, 1, timeout_ms)) == -1 && errno == EINTR)
			;
		if (n == 0) {
			err = ETIMEDOUT;
			goto fail;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) == -1)
			err = errno;
		if (err != 0)
			goto fail;
	}
	flags = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, flags & ~O_NONBLOCK);
	return (fd);
fail:
	close(fd);
	errno = err;
	return (-1);
}

/* Send all of buf within timeout_ms: 0, or -1 and errno. */
int
integ_send_all(int fd, const void *buf, size_t len, int timeout_ms)
{
	const char	*p = buf;
	struct pollfd	 pfd;
	uint64_t	 deadline, now;
	ssize_t		 n;
	int		 left;

	deadline = integ_now_ms() + (uint64_t)timeout_ms;
	while (len > 0) {
		n = send(fd, p, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n > 0) {
			p += n;
			len -= (size_t)n;
			continue;
		}
		if (n == -1 && errno != EAGAIN && errno != EINTR)
			return (-1);
		if ((now = integ_now_ms()) >= deadline) {
			errno = ETIMEDOUT;
			return (-1);
		}
		left = (int)(deadline - now);
		pfd.fd = fd;
		pfd.events = POLLOUT;
		poll(&pfd, 1, left);
	}
	return (0);
}

/* One recv, waiting up to timeout_ms; -1 with ETIMEDOUT on timeout. */
ssize_t
integ_recv_wait(int fd, void *buf, size_t len, int timeout_ms)
{
	struct pollfd	pfd;
	int		n;

	pfd.fd = fd;
	pfd.events = POLLIN;
	while ((n = poll(&pfd, 1, timeout_ms)) == -1 && errno == EINTR)
		;
	if (n == 0) {
		errno = ETIMEDOUT;
		return (-1);
	}
	return (recv(fd, buf, len, MSG_DONTWAIT));
}

/* Receive exactly len bytes; returns fewer on EOF, error or timeout. */
ssize_t
integ_recv_exact(int fd, void *buf, size_t len, int timeout_ms)
{
	char		*p = buf;
	uint64_t	 deadline, now;
	size_t		 got = 0;
	ssize_t		 n;

	deadline = integ_now_ms() + (uint64_t)timeout_ms;
	while (got < len && (now = integ_now_ms()) < deadline) {
		n = integ_recv_wait(fd, p + got, len - got,
		    (int)(deadline - now));
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	return ((ssize_t)got);
}

/*
 * Read until EOF, at most size bytes, within timeout_ms.  Returns the
 * bytes read; *how is 0 for EOF, else the errno that ended it (ETIMEDOUT,
 * ECONNRESET, ENOBUFS when size is reached).
 */
ssize_t
integ_read_eof(int fd, void *buf, size_t size, int timeout_ms, int *how)
{
	char		*p = buf;
	uint64_t	 deadline, now;
	size_t		 got = 0;
	ssize_t		 n;

	*how = ETIMEDOUT;
	deadline = integ_now_ms() + (uint64_t)timeout_ms;
	while ((now = integ_now_ms()) < deadline) {
		if (got == size) {
			*how = ENOBUFS;
			break;
		}
		n = integ_recv_wait(fd, p + got, size - got,
		    (int)(deadline - now));
		if (n == 0) {
			*how = 0;
			break;
		}
		if (n > 0) {
			got += (size_t)n;
			continue;
		}
		if (errno == EAGAIN || errno == EINTR)
			continue;
		*how = errno;
		break;
	}
	return ((ssize_t)got);
}

/* Send msg on a TCP stream and expect it back: 0, or -1. */
int
integ_tcp_ping(int fd, const char *msg, int timeout_ms)
{
	char	buf[1024];
	size_t	len = strlen(msg);

	if (len > sizeof(buf) || integ_send_all(fd, msg, len, timeout_ms) ==
	    -1)
		return (-1);
	if (integ_recv_exact(fd, buf, len, timeout_ms) != (ssize_t)len)
		return (-1);
	return (memcmp(buf, msg, len) == 0 ? 0 : -1);
}

/* Send msg as a datagram to ss and expect the same datagram: 0, or -1. */
int
integ_udp_ping(int fd, const struct sockaddr_storage *ss, socklen_t len,
    const char *msg, int timeout_ms)
{
	char	buf[2048];
	size_t	mlen = strlen(msg);
	ssize_t	n;

	if (sendto(fd, msg, mlen, 0, (const struct sockaddr *)ss, len) !=
	    (ssize_t)mlen)
		return (-1);
	n = integ_recv_wait(fd, buf, sizeof(buf), timeout_ms);
	if (n != (ssize_t)mlen || memcmp(buf, msg, mlen) != 0)
		return (-1);
	return (0);
}

/* integ_tcp_connect within INTEG_IO_MS, asserted; the caller closes. */
int
integ_tcp_connect_ok(const struct sockaddr_storage *ss, socklen_t len,
    const char *what)
{
	int	fd;

	fd = integ_tcp_connect(ss, len, INTEG_IO_MS);
	ck_assert_msg(fd != -1, "%s: connect: %s", what, integ_io_state());
	return (fd);
}

/* integ_tcp_ping within INTEG_IO_MS, asserted. */
void
integ_tcp_ping_ok(int fd, const char *msg, const char *what)
{
	ck_assert_msg(integ_tcp_ping(fd, msg, INTEG_IO_MS) == 0,
	    "%s: \"%s\" did not come back whole: %s", what, msg,
	    integ_io_state());
}

/* integ_udp_ping within INTEG_IO_MS, asserted. */
void
integ_udp_ping_ok(int fd, const struct sockaddr_storage *ss, socklen_t len,
    const char *msg, const char *what)
{
	ck_assert_msg(integ_udp_ping(fd, ss, len, msg, INTEG_IO_MS) == 0,
	    "%s: datagram \"%s\" did not come back whole: %s", what, msg,
	    integ_io_state());
}

/*
 * The connection must end (EOF or reset) within timeout_ms without
 * delivering any byte.
 */
void
integ_assert_closed_empty(int fd, int timeout_ms, const char *what)
{
	char	buf[256];
	ssize_t	n;
	int	how;

	n = integ_read_eof(fd, buf, sizeof(buf), timeout_ms, &how);
	ck_assert_msg(n == 0, "%s: got %zd unexpected bytes", what, n);
	ck_assert_msg(how == 0 || how == ECONNRESET,
	    "%s: not closed within %d ms: %s", what, timeout_ms,
	    strerror(how));
}

#define INTEG_BULK_CHUNK	(256 * 1024)

/*
 * Send total pseudo-random bytes (integ_fill from seed) on the connected
 * stream fd to an echo, reading the echo at the same time, all within
 * timeout_ms.  Asserts that exactly total bytes came back, with the
 * SHA-256 of what was sent.  fd is left non-blocking and open.
 */
void
integ_bulk_echo(int fd, unsigned long long total, uint64_t seed,
    int timeout_ms)
{
	integ_bulk_echo_ex(fd, total, seed, timeout_ms, 0);
}

/*
 * integ_bulk_echo, and with INTEG_BULK_FIN the write side is shut as soon
 * as the last byte is sent, while most of the echo is still on its way;
 * then the echo must still come back whole, followed by an EOF.
 */
void
integ_bulk_echo_ex(int fd, unsigned long long total, uint64_t seed,
    int timeout_ms, int flags)
{
	struct pollfd		 pfd;
	EVP_MD_CTX		*smd, *rmd;
	unsigned char		*sbuf, *rbuf;
	char			 shex[65], rhex[65];
	unsigned long long	 queued = 0, sent = 0, recvd = 0;
	uint64_t		 state = seed, deadline;
	size_t			 soff = 0, slen = 0;
	ssize_t			 n;
	long			 iter;
	int			 shut = 0, how;
	char			 more[64];

	sbuf = malloc(INTEG_BULK_CHUNK);
	rbuf = malloc(INTEG_BULK_CHUNK);
	ck_assert_msg(sbuf != NULL && rbuf != NULL, "out of memory");
	smd = integ_sha256_new();
	rmd = integ_sha256_new();
	ck_assert(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
	deadline = integ_now_ms() + (uint64_t)timeout_ms;
	for (iter = 0; recvd < total && iter < 100000000L; iter++) {
		ck_assert_msg(integ_now_ms() < deadline, "after %d ms: sent "
		    "%llu, received %llu of %llu bytes", timeout_ms, sent,
		    recvd, total);
		if (soff == slen && queued < total) {
			slen = total - queued < INTEG_BULK_CHUNK ?
			    (size_t)(total - queued) : INTEG_BULK_CHUNK;
			integ_fill(sbuf, slen, &state);
			EVP_DigestUpdate(smd, sbuf, slen);
			queued += slen;
			soff = 0;
		}
		pfd.fd = fd;
		pfd.events = POLLIN | (soff < slen ? POLLOUT : 0);
		if (poll(&pfd, 1, 1000) <= 0)
			continue;
		if ((pfd.revents & POLLOUT) && soff < slen) {
			n = send(fd, sbuf + soff, slen - soff,
			    MSG_NOSIGNAL | MSG_DONTWAIT);
			ck_assert_msg(n > 0 || errno == EAGAIN, "send after "
			    "%llu bytes: %s", sent, integ_io_state());
			if (n > 0) {
				soff += (size_t)n;
				sent += (unsigned long long)n;
			}
			if ((flags & INTEG_BULK_FIN) && !shut && sent == total) {
				ck_assert_msg(shutdown(fd, SHUT_WR) == 0,
				    "shutdown: %s", strerror(errno));
				shut = 1;
			}
		}
		if (pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, rbuf, INTEG_BULK_CHUNK, MSG_DONTWAIT);
			ck_assert_msg(n != 0, "EOF after receiving %llu of "
			    "%llu bytes", recvd, total);
			ck_assert_msg(n > 0 || errno == EAGAIN, "recv after "
			    "%llu bytes: %s", recvd, integ_io_state());
			if (n > 0) {
				EVP_DigestUpdate(rmd, rbuf, (size_t)n);
				recvd += (unsigned long long)n;
			}
		}
	}
	ck_assert_msg(sent == total && recvd == total, "sent %llu, "
	    "received %llu, expected %llu", sent, recvd, total);
	integ_sha256_final(smd, shex);
	integ_sha256_final(rmd, rhex);
	ck_assert_str_eq(rhex, shex);
	if (flags & INTEG_BULK_FIN) {
		ck_assert_msg(recvd > 0 && shut, "no FIN sent");
		n = integ_read_eof(fd, more, sizeof(more), timeout_ms, &how);
		ck_assert_msg(n == 0 && how == 0, "after the whole echo: "
		    "%zd more bytes, then %s", n, how == 0 ? "EOF" :
		    strerror(how));
	}
	free(sbuf);
	free(rbuf);
}

/* A process's resident set size in KiB (/proc/PID/status), or -1. */
long long
integ_rss_kb(pid_t pid)
{
	FILE		*f;
	char		 path[64], line[256];
	long long	 kb = -1;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	if ((f = fopen(path, "r")) == NULL)
		return (-1);
	while (fgets(line, sizeof(line), f) != NULL)
		if (sscanf(line, "VmRSS: %lld kB", &kb) == 1)
			break;
	fclose(f);
	return (kb);
}

/*
 * Time and data
 */

uint64_t
integ_now_ms(void)
{
	struct timespec	ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ((uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000);
}

void
integ_sleep_ms(int ms)
{
	struct timespec	ts;

	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (long)(ms % 1000) * 1000000;
	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

/* Pseudo-random bytes (xorshift64*), reproducible from *state. */
void
integ_fill(void *buf, size_t len, uint64_t *state)
{
	unsigned char	*p = buf;
	uint64_t	 x = *state, v = 0;
	size_t		 i;

	if (x == 0)
		x = 0x9e3779b97f4a7c15ULL;
	for (i = 0; i < len; i++) {
		if (i % 8 == 0) {
			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			v = x * 0x2545f4914f6cdd1dULL;
		}
		p[i] = (unsigned char)(v >> (8 * (i % 8)));
	}
	*state = x;
}

void
integ_sha256_hex(const void *buf, size_t len, char hex[65])
{
	unsigned char	md[32];
	unsigned int	mdlen = 0, i;

	ck_assert_msg(EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) ==
	    1 && mdlen == 32, "EVP_Digest failed");
	for (i = 0; i < 32; i++)
		snprintf(hex + 2 * i, 3, "%02x", md[i]);
}

/* A SHA-256 context to feed with EVP_DigestUpdate; integ_sha256_final. */
EVP_MD_CTX *
integ_sha256_new(void)
{
	EVP_MD_CTX	*md;

	md = EVP_MD_CTX_new();
	ck_assert_msg(md != NULL, "out of memory");
	ck_assert(EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1);
	return (md);
}

/* The digest of md in hex; md is freed. */
const char *
integ_sha256_final(EVP_MD_CTX *md, char hex[65])
{
	unsigned char	d[EVP_MAX_MD_SIZE];
	unsigned int	len = 0, i;

	ck_assert_msg(EVP_DigestFinal_ex(md, d, &len) == 1 && len == 32,
	    "EVP_DigestFinal_ex failed");
	for (i = 0; i < len; i++)
		snprintf(hex + 2 * i, 3, "%02x", d[i]);
	EVP_MD_CTX_free(md);
	return (hex);
}

/*
 * Echo peers.  Each runs event_base_dispatch in its own thread; the test
 * thread only starts and stops them.  Stopping breaks the loop from the
 * test thread, which needs libevent's pthread locking.
 */

struct integ_conn {
	TAILQ_ENTRY(integ_conn) entry;
	struct integ_echo *echo;
	struct bufferevent *bev;
	EVP_MD_CTX	*md;		/* half-close server: digest so far */
	unsigned long long nbytes;	/* half-close server: bytes so far */
	int		 closing;	/* peer's EOF seen: free once flushed */
};

struct integ_echo {
	enum integ_echo_kind kind;
	uint16_t	 port;
	int		 fd;		/* UDP only; TCP's is the listener's */
	struct event_base *base;
	struct event	*ev;		/* UDP read event */
	struct event	*stop_ev;	/* made active by integ_echo_stop */
	struct evconnlistener *lev;
	pthread_t	 thread;
	TAILQ_HEAD(, integ_conn) conns;
	_Atomic unsigned long count;	/* datagrams echoed or conns accepted */
	unsigned char	 buf[65536];	/* UDP receive buffer */
};

#define INTEG_ECHO_HIWAT	(4 * 1024 * 1024)	/* pause reading */
#define INTEG_ECHO_LOWAT	(1024 * 1024)		/* resume */

static pthread_once_t	integ_evthread_once = PTHREAD_ONCE_INIT;

static void
integ_evthread_init(void)
{
	evthread_use_pthreads();
}

static void
integ_conn_free(struct integ_conn *c)
{
	TAILQ_REMOVE(&c->echo->conns, c, entry);
	bufferevent_free(c->bev);
	EVP_MD_CTX_free(c->md);
	free(c);
}

static void
integ_udp_read_cb(evutil_socket_t fd, short what, void *arg)
{
	struct integ_echo	*e = arg;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	ssize_t			 n;
	int			 i;

	/* Bounded per wakeup so one burst cannot starve the loop. */
	for (i = 0; i < 256; i++) {
		len = sizeof(ss);
		n = recvfrom(fd, e->buf, sizeof(e->buf), MSG_DONTWAIT,
		    (struct sockaddr *)&ss, &len);
		if (n == -1)
			break;
		/* Count first: the client may read the echo before we return. */
		e->count++;
		(void)sendto(fd, e->buf, (size_t)n, 0, (struct sockaddr *)&ss,
		    len);
	}
}

static void
integ_tcp_read_cb(struct bufferevent *bev, void *arg)
{
	struct integ_conn	*c = arg;
	struct evbuffer		*in = bufferevent_get_input(bev);
	struct evbuffer		*out = bufferevent_get_output(bev);
	struct evbuffer_iovec	 v[8];
	int			 i, n;

	if (c->echo->kind == INTEG_ECHO_TCP) {
		evbuffer_add_buffer(out, in);
		if (evbuffer_get_length(out) > INTEG_ECHO_HIWAT)
			bufferevent_disable(bev, EV_READ);
		return;
	}
	while (evbuffer_get_length(in) > 0) {
		n = evbuffer_peek(in, -1, NULL, v, 8);
		if (n > 8)
			n = 8;
		for (i = 0; i < n; i++) {
			EVP_DigestUpdate(c->md, v[i].iov_base, v[i].iov_len);
			c->nbytes += v[i].iov_len;
			evbuffer_drain(in, v[i].iov_len);
		}
	}
}

static void
integ_tcp_write_cb(struct bufferevent *bev, void *arg)
{
	struct integ_conn	*c = arg;

	if (c->closing) {
		if (evbuffer_get_length(bufferevent_get_output(bev)) == 0)
			integ_conn_free(c);
		return;
	}
	bufferevent_enable(bev, EV_READ);
}

static void
integ_tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct integ_conn	*c = arg;
	struct evbuffer		*out = bufferevent_get_output(bev);
	unsigned char		 md[EVP_MAX_MD_SIZE];
	unsigned int		 mdlen = 0, i;
	char			 hex[2 * EVP_MAX_MD_SIZE + 1];

	if ((what & BEV_EVENT_EOF) == 0) {
		integ_conn_free(c);
		return;
	}
	c->closing = 1;
	bufferevent_disable(bev, EV_READ);
	if (c->echo->kind == INTEG_ECHO_HALFCLOSE) {
		EVP_DigestFinal_ex(c->md, md, &mdlen);
		for (i = 0; i < mdlen; i++)
			snprintf(hex + 2 * i, 3, "%02x", md[i]);
		hex[2 * mdlen] = '\0';
		evbuffer_add_printf(out, INTEG_HALFCLOSE_FMT, c->nbytes, hex);
	}
	if (evbuffer_get_length(out) == 0)
		integ_conn_free(c);
	else
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
}

static void
integ_accept_cb(struct evconnlistener *lev, evutil_socket_t fd,
    struct sockaddr *sa, int salen, void *arg)
{
	struct integ_echo	*e = arg;
	struct integ_conn	*c;

	if ((c = calloc(1, sizeof(*c))) == NULL) {
		evutil_closesocket(fd);
		return;
	}
	c->echo = e;
	c->bev = bufferevent_socket_new(e->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (c->bev == NULL) {
		evutil_closesocket(fd);
		free(c);
		return;
	}
	TAILQ_INSERT_TAIL(&e->conns, c, entry);
	if (e->kind == INTEG_ECHO_HALFCLOSE) {
		if ((c->md = EVP_MD_CTX_new()) == NULL ||
		    EVP_DigestInit_ex(c->md, EVP_sha256(), NULL) != 1) {
			integ_conn_free(c);
			return;
		}
	}
	bufferevent_setcb(c->bev, integ_tcp_read_cb, integ_tcp_write_cb,
	    integ_tcp_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, INTEG_ECHO_LOWAT, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	e->count++;
}

/*
 * Runs in the echo thread.  A loopbreak from another thread is lost if the
 * loop has not started yet (event_base_loop clears the flag), so stopping
 * activates this event instead; an active event waits for the loop.
 */
static void
integ_echo_stop_cb(evutil_socket_t fd, short what, void *arg)
{
	struct integ_echo	*e = arg;

	event_base_loopbreak(e->base);
}

static void *
integ_echo_main(void *arg)
{
	struct integ_echo	*e = arg;

	event_base_dispatch(e->base);
	return (NULL);
}

/* Start a peer on loopback port 0 of family; it runs until stopped. */
struct integ_echo *
integ_echo_start(enum integ_echo_kind kind, int family)
{
	struct integ_echo	*e;
	struct sockaddr_storage	 ss;
	socklen_t		 len;
	int			 fd, bufsize = 4 * 1024 * 1024, type;

	pthread_once(&integ_evthread_once, integ_evthread_init);
	e = calloc(1, sizeof(*e));
	ck_assert_msg(e != NULL, "out of memory");
	e->kind = kind;
	e->fd = -1;
	TAILQ_INIT(&e->conns);
	e->base = event_base_new();
	ck_assert_msg(e->base != NULL, "event_base_new failed");

	type = kind == INTEG_ECHO_UDP ? SOCK_DGRAM : SOCK_STREAM;
	fd = socket(family, type | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	ck_assert_msg(fd != -1, "socket: %s", strerror(errno));
	if (kind == INTEG_ECHO_UDP) {
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bufsize,
		    sizeof(bufsize));
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &bufsize,
		    sizeof(bufsize));
	}
	integ_addr(family, 0, &ss, &len);
	ck_assert_msg(bind(fd, (struct sockaddr *)&ss, len) == 0,
	    "echo bind: %s", strerror(errno));
	e->port = integ_local_port(fd);
	ck_assert_msg(e->port != 0, "echo: no port");

	if (kind == INTEG_ECHO_UDP) {
		e->fd = fd;
		e->ev = event_new(e->base, fd, EV_READ | EV_PERSIST,
		    integ_udp_read_cb, e);
		ck_assert_msg(e->ev != NULL && event_add(e->ev, NULL) == 0,
		    "echo: event_add failed");
	} else {
		ck_assert_msg(listen(fd, 512) == 0, "listen: %s",
		    strerror(errno));
		e->lev = evconnlistener_new(e->base, integ_accept_cb, e,
		    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd);
		ck_assert_msg(e->lev != NULL, "evconnlistener_new failed");
	}
	e->stop_ev = event_new(e->base, -1, 0, integ_echo_stop_cb, e);
	ck_assert_msg(e->stop_ev != NULL, "event_new failed");
	ck_assert_msg(pthread_create(&e->thread, NULL, integ_echo_main, e) ==
	    0, "pthread_create failed");
	return (e);
}

/* What an INTEG_ECHO_HALFCLOSE peer answers to len bytes of buf. */
const char *
integ_halfclose_answer(const void *buf, size_t len, char *want, size_t size)
{
	char	hex[65];

	integ_sha256_hex(buf, len, hex);
	snprintf(want, size, INTEG_HALFCLOSE_FMT, (unsigned long long)len,
	    hex);
	return (want);
}

/*
 * Send len bytes of buf on a TCP stream that ends at an
 * INTEG_ECHO_HALFCLOSE peer, then our FIN: its answer must come back
 * whole, then EOF, within INTEG_IO_MS.  Returns the answer's length.
 */
size_t
integ_halfclose_ok(int fd, const void *buf, size_t len, const char *what)
{
	char	want[160], got[256];
	ssize_t	n;
	int	how;

	integ_halfclose_answer(buf, len, want, sizeof(want));
	ck_assert_msg(integ_send_all(fd, buf, len, INTEG_IO_MS) == 0,
	    "%s: send: %s", what, integ_io_state());
	ck_assert_msg(shutdown(fd, SHUT_WR) == 0, "%s: shutdown: %s", what,
	    strerror(errno));
	n = integ_read_eof(fd, got, sizeof(got) - 1, INTEG_IO_MS, &how);
	got[n > 0 ? n : 0] = '\0';
	ck_assert_msg(how == 0, "%s: after the answer \"%s\": %s instead of "
	    "EOF", what, got, strerror(how));
	ck_assert_msg(strcmp(got, want) == 0, "%s: the answer was \"%s\", "
	    "expected \"%s\"", what, got, want);
	return (strlen(want));
}

uint16_t
integ_echo_port(const struct integ_echo *e)
{
	return (e->port);
}

unsigned long
integ_echo_count(const struct integ_echo *e)
{
	return (e->count);
}

/* Stop the loop, join the thread, close and free everything. */
void
integ_echo_stop(struct integ_echo *e)
{
	struct integ_conn	*c;

	if (e == NULL)
		return;
	event_active(e->stop_ev, EV_READ, 0);
	pthread_join(e->thread, NULL);
	while ((c = TAILQ_FIRST(&e->conns)) != NULL)
		integ_conn_free(c);
	if (e->lev != NULL)
		evconnlistener_free(e->lev);
	if (e->ev != NULL)
		event_free(e->ev);
	event_free(e->stop_ev);
	if (e->fd != -1)
		close(e->fd);
	event_base_free(e->base);
	free(e);
}
