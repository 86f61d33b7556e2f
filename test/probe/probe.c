/*
 * probe: reports, as one JSON object on the last line of stdout, what a process
 * sees from inside a jail. Used by the integration tests; see README.md here.
 *
 * Build: cc -static -O2 -Wall -Wextra -o probe probe.c   (glibc, no other deps)
 *
 * Rules this file keeps:
 *  - never crash: every failure becomes null or an errno name in the JSON;
 *  - base sections are collected first, before any check changes the process;
 *  - anything that may change the process or be killed by seccomp runs in a
 *    forked child; the parent only reports.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/keyctl.h>
#include <linux/magic.h>
#include <linux/reboot.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/un.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PROBE_VERSION 1

extern char **environ;

/* ------------------------------------------------------------------ */
/* Growable buffer and JSON writer                                     */
/* ------------------------------------------------------------------ */

typedef struct {
	char *p;
	size_t len, cap;
} buf_t;

static void die_oom(void)
{
	static const char m[] = "probe: out of memory\n";
	ssize_t r = write(2, m, sizeof m - 1);
	(void)r;
	_exit(70);
}

static void b_reserve(buf_t *b, size_t need)
{
	if (b->len + need + 1 <= b->cap)
		return;
	size_t nc = b->cap ? b->cap : 1024;
	while (nc < b->len + need + 1)
		nc *= 2;
	char *np = realloc(b->p, nc);
	if (!np)
		die_oom();
	b->p = np;
	b->cap = nc;
}

static void b_putn(buf_t *b, const char *s, size_t n)
{
	b_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = 0;
}

static void b_puts(buf_t *b, const char *s) { b_putn(b, s, strlen(s)); }

static void b_putc(buf_t *b, char c) { b_putn(b, &c, 1); }

__attribute__((format(printf, 2, 3))) static void b_printf(buf_t *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	b_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

static void b_free(buf_t *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

/* Comma before a value or key unless right after an opener or a key. */
static void j_sep(buf_t *b)
{
	if (b->len == 0)
		return;
	char c = b->p[b->len - 1];
	if (c != '{' && c != '[' && c != ':')
		b_putc(b, ',');
}

/* Length of a valid UTF-8 sequence at s (max n bytes), 0 if invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	if (c < 0x80)
		return 1;
	size_t len;
	unsigned char lo = 0x80, hi = 0xBF;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		if (c == 0xE0)
			lo = 0xA0;
		if (c == 0xED)
			hi = 0x9F;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		if (c == 0xF0)
			lo = 0x90;
		if (c == 0xF4)
			hi = 0x8F;
	} else
		return 0;
	if (n < len)
		return 0;
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xBF)
			return 0;
	return len;
}

/* JSON string of n raw bytes; invalid UTF-8 becomes U+FFFD. */
static void j_strn(buf_t *b, const char *s, size_t n)
{
	j_sep(b);
	b_putc(b, '"');
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;
	while (i < n) {
		unsigned char c = u[i];
		if (c == '"' || c == '\\') {
			b_putc(b, '\\');
			b_putc(b, (char)c);
			i++;
		} else if (c == '\n') {
			b_puts(b, "\\n");
			i++;
		} else if (c == '\t') {
			b_puts(b, "\\t");
			i++;
		} else if (c == '\r') {
			b_puts(b, "\\r");
			i++;
		} else if (c < 0x20 || c == 0x7f) {
			b_printf(b, "\\u%04x", c);
			i++;
		} else if (c < 0x80) {
			b_putc(b, (char)c);
			i++;
		} else {
			size_t l = utf8_seq(u + i, n - i);
			if (l == 0) {
				b_puts(b, "\\ufffd");
				i++;
			} else {
				b_putn(b, s + i, l);
				i += l;
			}
		}
	}
	b_putc(b, '"');
}

static void j_str(buf_t *b, const char *s)
{
	if (!s) {
		j_sep(b);
		b_puts(b, "null");
	} else
		j_strn(b, s, strlen(s));
}

static void j_key(buf_t *b, const char *k)
{
	j_str(b, k);
	b_putc(b, ':');
}

static void j_int(buf_t *b, long long v)
{
	j_sep(b);
	b_printf(b, "%lld", v);
}

static void j_num(buf_t *b, double v)
{
	j_sep(b);
	b_printf(b, "%.3f", v);
}

static void j_null(buf_t *b)
{
	j_sep(b);
	b_puts(b, "null");
}

static void j_bool(buf_t *b, int v)
{
	j_sep(b);
	b_puts(b, v ? "true" : "false");
}

static void j_raw(buf_t *b, const char *s)
{
	j_sep(b);
	b_puts(b, s);
}

static void j_open(buf_t *b, char c)
{
	j_sep(b);
	b_putc(b, c);
}

static void j_close(buf_t *b, char c) { b_putc(b, c); }

/* key helpers */
static void k_int(buf_t *b, const char *k, long long v)
{
	j_key(b, k);
	j_int(b, v);
}
static void k_str(buf_t *b, const char *k, const char *v)
{
	j_key(b, k);
	j_str(b, v);
}
static void k_bool(buf_t *b, const char *k, int v)
{
	j_key(b, k);
	j_bool(b, v);
}
static void k_null(buf_t *b, const char *k)
{
	j_key(b, k);
	j_null(b);
}

/* ------------------------------------------------------------------ */
/* errno and signal names                                              */
/* ------------------------------------------------------------------ */

struct name_num {
	const char *name;
	int num;
};

#define E(x) {#x, x}
static const struct name_num errnos[] = {
	E(EPERM), E(ENOENT), E(ESRCH), E(EINTR), E(EIO), E(ENXIO), E(E2BIG), E(ENOEXEC),
	E(EBADF), E(ECHILD), E(EAGAIN), E(ENOMEM), E(EACCES), E(EFAULT), E(ENOTBLK),
	E(EBUSY), E(EEXIST), E(EXDEV), E(ENODEV), E(ENOTDIR), E(EISDIR), E(EINVAL),
	E(ENFILE), E(EMFILE), E(ENOTTY), E(ETXTBSY), E(EFBIG), E(ENOSPC), E(ESPIPE),
	E(EROFS), E(EMLINK), E(EPIPE), E(EDOM), E(ERANGE), E(EDEADLK), E(ENAMETOOLONG),
	E(ENOLCK), E(ENOSYS), E(ENOTEMPTY), E(ELOOP), E(ENOMSG), E(EIDRM), E(ENOSTR),
	E(ENODATA), E(ETIME), E(ENOSR), E(ENOLINK), E(EPROTO), E(EBADMSG), E(EOVERFLOW),
	E(EILSEQ), E(EUSERS), E(ENOTSOCK), E(EDESTADDRREQ), E(EMSGSIZE), E(EPROTOTYPE),
	E(ENOPROTOOPT), E(EPROTONOSUPPORT), E(ESOCKTNOSUPPORT), E(EOPNOTSUPP),
	E(EPFNOSUPPORT), E(EAFNOSUPPORT), E(EADDRINUSE), E(EADDRNOTAVAIL), E(ENETDOWN),
	E(ENETUNREACH), E(ENETRESET), E(ECONNABORTED), E(ECONNRESET), E(ENOBUFS),
	E(EISCONN), E(ENOTCONN), E(ESHUTDOWN), E(ETOOMANYREFS), E(ETIMEDOUT),
	E(ECONNREFUSED), E(EHOSTDOWN), E(EHOSTUNREACH), E(EALREADY), E(EINPROGRESS),
	E(ESTALE), E(EDQUOT), E(ECANCELED), E(ENOKEY), E(EKEYEXPIRED), E(EKEYREVOKED),
	E(EKEYREJECTED), E(EOWNERDEAD), E(ENOTRECOVERABLE), E(ERFKILL), E(EHWPOISON),
	E(ENOMEDIUM), E(EMEDIUMTYPE), E(EREMOTEIO), E(ENOTUNIQ), E(EBADFD), E(EREMCHG),
	E(ELIBBAD), E(ENONET), E(ENOPKG), E(EREMOTE), E(ECOMM), E(ENOCSI), E(EBADE),
	E(EBADR), E(EXFULL), E(ENOANO), E(EBADRQC), E(EBADSLT), E(ECHRNG), E(EL2NSYNC),
	E(EL3HLT), E(EL3RST), E(ELNRNG), E(EUNATCH), E(EL2HLT), E(EBFONT), E(EADV),
	E(ESRMNT), E(EDOTDOT), E(ELIBACC), E(ELIBSCN), E(ELIBMAX), E(ELIBEXEC),
	E(ERESTART), E(ESTRPIPE), E(EUCLEAN), E(ENOTNAM), E(ENAVAIL), E(EISNAM),
};
#undef E

static const char *errno_name(int e, char *tmp, size_t n)
{
	for (size_t i = 0; i < sizeof errnos / sizeof errnos[0]; i++)
		if (errnos[i].num == e)
			return errnos[i].name;
	snprintf(tmp, n, "E%d", e);
	return tmp;
}

/* "errno": "EPERM", "errnoNum": 1   or   "errno": null */
static void k_errno2(buf_t *b, const char *key, const char *numkey, int e)
{
	char tmp[16];
	j_key(b, key);
	if (e == 0) {
		j_null(b);
		return;
	}
	j_str(b, errno_name(e, tmp, sizeof tmp));
	k_int(b, numkey, e);
}

static void k_errno(buf_t *b, int e) { k_errno2(b, "errno", "errnoNum", e); }

static const char *const signames[] = {
	NULL, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS",
	"SIGFPE", "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM",
	"SIGTERM", "SIGSTKFLT", "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN",
	"SIGTTOU", "SIGURG", "SIGXCPU", "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH",
	"SIGIO", "SIGPWR", "SIGSYS",
};
#define NSIGNAMES ((int)(sizeof signames / sizeof signames[0]))

static const char *sig_name(int s, char *tmp, size_t n)
{
	if (s > 0 && s < NSIGNAMES)
		return signames[s];
	snprintf(tmp, n, "SIG%d", s);
	return tmp;
}

/* "9", "KILL", "SIGKILL" -> 9; -1 if unknown */
static int parse_signal(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);
	if (*s && !*end)
		return (v > 0 && v < 65) ? (int)v : -1;
	for (int i = 1; i < NSIGNAMES; i++) {
		if (!strcasecmp(s, signames[i]) || !strcasecmp(s, signames[i] + 3))
			return i;
	}
	return -1;
}

/* ------------------------------------------------------------------ */
/* Small helpers                                                       */
/* ------------------------------------------------------------------ */

/* Reads a whole file (up to max bytes). Returns malloc'd NUL-terminated data or NULL with errno. */
static char *read_file(const char *path, size_t max, size_t *lenp)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return NULL;
	size_t cap = 4096, len = 0;
	char *p = malloc(cap);
	if (!p) {
		close(fd);
		errno = ENOMEM;
		return NULL;
	}
	for (;;) {
		if (len + 1 >= cap) {
			if (cap >= max + 1)
				break;
			cap *= 2;
			char *np = realloc(p, cap);
			if (!np) {
				free(p);
				close(fd);
				errno = ENOMEM;
				return NULL;
			}
			p = np;
		}
		size_t want = cap - 1 - len;
		if (len + want > max)
			want = max - len;
		if (want == 0)
			break;
		ssize_t r = read(fd, p + len, want);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = errno;
			free(p);
			close(fd);
			errno = e;
			return NULL;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	close(fd);
	p[len] = 0;
	if (lenp)
		*lenp = len;
	return p;
}

static void k_file(buf_t *b, const char *key, const char *path)
{
	size_t len;
	char *s = read_file(path, 1 << 20, &len);
	j_key(b, key);
	if (!s)
		j_null(b);
	else
		j_strn(b, s, len);
	free(s);
}

static int write_all(int fd, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t r = write(fd, p, n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

static int parse_ll(const char *s, long long *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (!*s || *end || errno)
		return -1;
	*out = v;
	return 0;
}

static int parse_secs(const char *s, double *out)
{
	char *end;
	errno = 0;
	double v = strtod(s, &end);
	if (!*s || *end || errno || !(v >= 0) || v > 1e7)
		return -1;
	*out = v;
	return 0;
}

static double mono_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_secs(double secs)
{
	struct timespec ts;
	ts.tv_sec = (time_t)secs;
	ts.tv_nsec = (long)((secs - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static int proc_mounted(void)
{
	struct statfs sf;
	if (statfs("/proc", &sf) < 0)
		return 0;
	return sf.f_type == PROC_SUPER_MAGIC;
}

/* Value of "Key:" line in /proc/self/status-like text, copied into out. */
static int status_field(const char *text, const char *key, char *out, size_t n)
{
	size_t kl = strlen(key);
	const char *p = text;
	while (p && *p) {
		if (!strncmp(p, key, kl) && p[kl] == ':') {
			p += kl + 1;
			while (*p == ' ' || *p == '\t')
				p++;
			size_t i = 0;
			while (p[i] && p[i] != '\n' && i + 1 < n) {
				out[i] = p[i];
				i++;
			}
			out[i] = 0;
			return 0;
		}
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return -1;
}

static int is_numeric(const char *s)
{
	if (!*s)
		return 0;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* ------------------------------------------------------------------ */
/* SHA-1 (for stdin)                                                   */
/* ------------------------------------------------------------------ */

typedef struct {
	uint32_t h[5];
	uint64_t len;
	unsigned char blk[64];
	size_t n;
} sha1_t;

#define ROL(x, k) (((x) << (k)) | ((x) >> (32 - (k))))

static void sha1_block(sha1_t *s, const unsigned char *p)
{
	uint32_t w[80];
	for (int i = 0; i < 16; i++)
		w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 |
		       (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
	for (int i = 16; i < 80; i++)
		w[i] = ROL(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
	for (int i = 0; i < 80; i++) {
		uint32_t f, k;
		if (i < 20) {
			f = (b & c) | (~b & d);
			k = 0x5A827999;
		} else if (i < 40) {
			f = b ^ c ^ d;
			k = 0x6ED9EBA1;
		} else if (i < 60) {
			f = (b & c) | (b & d) | (c & d);
			k = 0x8F1BBCDC;
		} else {
			f = b ^ c ^ d;
			k = 0xCA62C1D6;
		}
		uint32_t t = ROL(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = ROL(b, 30);
		b = a;
		a = t;
	}
	s->h[0] += a;
	s->h[1] += b;
	s->h[2] += c;
	s->h[3] += d;
	s->h[4] += e;
}

static void sha1_init(sha1_t *s)
{
	static const uint32_t h0[5] = {0x67452301, 0xEFCDAB89, 0x98BADCFE, 0x10325476, 0xC3D2E1F0};
	memcpy(s->h, h0, sizeof h0);
	s->len = 0;
	s->n = 0;
}

static void sha1_update(sha1_t *s, const unsigned char *p, size_t n)
{
	s->len += n;
	while (n > 0) {
		size_t take = 64 - s->n;
		if (take > n)
			take = n;
		memcpy(s->blk + s->n, p, take);
		s->n += take;
		p += take;
		n -= take;
		if (s->n == 64) {
			sha1_block(s, s->blk);
			s->n = 0;
		}
	}
}

static void sha1_hex(sha1_t *s, char out[41])
{
	uint64_t bits = s->len * 8;
	unsigned char pad = 0x80, zero = 0, lenb[8];
	sha1_update(s, &pad, 1);
	while (s->n != 56)
		sha1_update(s, &zero, 1);
	for (int i = 0; i < 8; i++)
		lenb[i] = (unsigned char)(bits >> (56 - 8 * i));
	sha1_update(s, lenb, 8);
	for (int i = 0; i < 5; i++)
		snprintf(out + 8 * i, 9, "%08x", s->h[i]);
}

/* ------------------------------------------------------------------ */
/* Sections                                                            */
/* ------------------------------------------------------------------ */

enum {
	S_IDS = 1 << 0,
	S_HOST = 1 << 1,
	S_CWD = 1 << 2,
	S_CAPS = 1 << 3,
	S_RLIM = 1 << 4,
	S_MOUNTS = 1 << 5,
	S_NET = 1 << 6,
	S_ENV = 1 << 7,
	S_FDS = 1 << 8,
	S_MISC = 1 << 9,
	S_USERNS = 1 << 10,
	S_CGROUP = 1 << 11,
	S_PIDS = 1 << 12,
	S_NS = 1 << 13,
	S_ALL = (1 << 14) - 1,
};

static const struct name_num sections[] = {
	{"ids", S_IDS},       {"hostname", S_HOST}, {"cwd", S_CWD},       {"caps", S_CAPS},
	{"rlimits", S_RLIM},  {"mounts", S_MOUNTS}, {"net", S_NET},       {"env", S_ENV},
	{"fds", S_FDS},       {"misc", S_MISC},     {"userns", S_USERNS}, {"cgroup", S_CGROUP},
	{"pids", S_PIDS},     {"pidsVisible", S_PIDS}, {"ns", S_NS},      {"all", S_ALL},
	{"none", 0},
};

static int g_proc;

static void sec_ids(buf_t *b)
{
	uid_t r, e, s;
	gid_t gr, ge, gs;
	k_int(b, "pid", getpid());
	k_int(b, "ppid", getppid());
	k_int(b, "pgid", getpgrp());
	k_int(b, "sid", getsid(0));
	if (getresuid(&r, &e, &s) == 0) {
		k_int(b, "uid", r);
		k_int(b, "euid", e);
		k_int(b, "suid", s);
	} else {
		k_int(b, "uid", getuid());
		k_int(b, "euid", geteuid());
		k_null(b, "suid");
	}
	if (getresgid(&gr, &ge, &gs) == 0) {
		k_int(b, "gid", gr);
		k_int(b, "egid", ge);
		k_int(b, "sgid", gs);
	} else {
		k_int(b, "gid", getgid());
		k_int(b, "egid", getegid());
		k_null(b, "sgid");
	}
	j_key(b, "groups");
	int n = getgroups(0, NULL);
	gid_t *g = n > 0 ? calloc((size_t)n, sizeof *g) : NULL;
	if (n > 0 && g)
		n = getgroups(n, g);
	if (n < 0) {
		j_null(b);
	} else {
		j_open(b, '[');
		for (int i = 0; i < n && g; i++)
			j_int(b, g[i]);
		j_close(b, ']');
	}
	free(g);
}

static void sec_host(buf_t *b)
{
	struct utsname u;
	if (uname(&u) == 0) {
		k_str(b, "hostname", u.nodename);
		k_str(b, "domainname", u.domainname);
	} else {
		k_null(b, "hostname");
		k_null(b, "domainname");
	}
}

static void sec_cwd(buf_t *b)
{
	char *p = malloc(PATH_MAX + 1);
	char *c = p ? getcwd(p, PATH_MAX + 1) : NULL;
	int e = errno;
	k_str(b, "cwd", c);
	if (!c)
		k_errno2(b, "cwdErrno", "cwdErrnoNum", e);
	free(p);
}

static const char *const capnames[] = {
	"chown", "dac_override", "dac_read_search", "fowner", "fsetid", "kill", "setgid",
	"setuid", "setpcap", "linux_immutable", "net_bind_service", "net_broadcast",
	"net_admin", "net_raw", "ipc_lock", "ipc_owner", "sys_module", "sys_rawio",
	"sys_chroot", "sys_ptrace", "sys_pacct", "sys_admin", "sys_boot", "sys_nice",
	"sys_resource", "sys_time", "sys_tty_config", "mknod", "lease", "audit_write",
	"audit_control", "setfcap", "mac_override", "mac_admin", "syslog", "wake_alarm",
	"block_suspend", "audit_read", "perfmon", "bpf", "checkpoint_restore",
};

static void cap_names(buf_t *b, const char *key, int have, uint64_t v)
{
	j_key(b, key);
	if (!have) {
		j_null(b);
		return;
	}
	j_open(b, '[');
	for (int i = 0; i < 64; i++) {
		if (!(v & (1ULL << i)))
			continue;
		if (i < (int)(sizeof capnames / sizeof capnames[0])) {
			char t[40];
			snprintf(t, sizeof t, "cap_%s", capnames[i]);
			j_str(b, t);
		} else {
			char t[16];
			snprintf(t, sizeof t, "cap_%d", i);
			j_str(b, t);
		}
	}
	j_close(b, ']');
}

static void sec_caps(buf_t *b)
{
	static const char *const keys[5] = {"inheritable", "permitted", "effective", "bounding", "ambient"};
	static const char *const fields[5] = {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"};
	uint64_t v[5] = {0};
	int have[5] = {0};
	const char *source = NULL;
	long seccomp = -1, filters = -1;

	char *st = g_proc ? read_file("/proc/self/status", 1 << 20, NULL) : NULL;
	if (st) {
		char val[64];
		source = "proc";
		for (int i = 0; i < 5; i++) {
			if (status_field(st, fields[i], val, sizeof val) == 0) {
				v[i] = strtoull(val, NULL, 16);
				have[i] = 1;
			}
		}
		if (status_field(st, "Seccomp", val, sizeof val) == 0)
			seccomp = strtol(val, NULL, 10);
		if (status_field(st, "Seccomp_filters", val, sizeof val) == 0)
			filters = strtol(val, NULL, 10);
		free(st);
	} else {
		struct __user_cap_header_struct h = {_LINUX_CAPABILITY_VERSION_3, 0};
		struct __user_cap_data_struct d[2];
		memset(d, 0, sizeof d);
		source = "syscall";
		if (syscall(SYS_capget, &h, d) == 0) {
			v[0] = d[0].inheritable | (uint64_t)d[1].inheritable << 32;
			v[1] = d[0].permitted | (uint64_t)d[1].permitted << 32;
			v[2] = d[0].effective | (uint64_t)d[1].effective << 32;
			have[0] = have[1] = have[2] = 1;
		}
		int r = 0;
		for (int i = 0; i < 64; i++) {
			r = prctl(PR_CAPBSET_READ, i, 0, 0, 0);
			if (r < 0)
				break;
			have[3] = 1;
			if (r == 1)
				v[3] |= 1ULL << i;
		}
		for (int i = 0; i < 64; i++) {
			r = prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_IS_SET, i, 0, 0);
			if (r < 0)
				break;
			have[4] = 1;
			if (r == 1)
				v[4] |= 1ULL << i;
		}
		r = prctl(PR_GET_SECCOMP, 0, 0, 0, 0);
		if (r >= 0)
			seccomp = r;
	}
	j_key(b, "caps");
	j_open(b, '{');
	k_str(b, "source", source);
	for (int i = 0; i < 5; i++) {
		j_key(b, keys[i]);
		if (have[i]) {
			char t[20];
			snprintf(t, sizeof t, "%016llx", (unsigned long long)v[i]);
			j_str(b, t);
		} else
			j_null(b);
	}
	char nk[32];
	for (int i = 0; i < 5; i++) {
		snprintf(nk, sizeof nk, "%sNames", keys[i]);
		cap_names(b, nk, have[i], v[i]);
	}
	int nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	j_key(b, "noNewPrivs");
	if (nnp < 0)
		j_null(b);
	else
		j_int(b, nnp);
	j_key(b, "seccomp");
	if (seccomp < 0)
		j_null(b);
	else
		j_int(b, seccomp);
	j_key(b, "seccompFilters");
	if (filters < 0)
		j_null(b);
	else
		j_int(b, filters);
	int sb = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
	j_key(b, "securebits");
	if (sb < 0)
		j_null(b);
	else
		j_int(b, sb);
	j_close(b, '}');
}

static const struct name_num rlims[] = {
	{"as", RLIMIT_AS},           {"core", RLIMIT_CORE},       {"cpu", RLIMIT_CPU},
	{"data", RLIMIT_DATA},       {"fsize", RLIMIT_FSIZE},     {"locks", RLIMIT_LOCKS},
	{"memlock", RLIMIT_MEMLOCK}, {"msgqueue", RLIMIT_MSGQUEUE}, {"nice", RLIMIT_NICE},
	{"nofile", RLIMIT_NOFILE},   {"nproc", RLIMIT_NPROC},     {"rss", RLIMIT_RSS},
	{"rtprio", RLIMIT_RTPRIO},   {"rttime", RLIMIT_RTTIME},   {"sigpending", RLIMIT_SIGPENDING},
	{"stack", RLIMIT_STACK},
};

static void j_rlimval(buf_t *b, rlim_t v)
{
	if (v == RLIM_INFINITY)
		j_str(b, "inf");
	else {
		char t[32];
		snprintf(t, sizeof t, "%llu", (unsigned long long)v);
		j_str(b, t);
	}
}

static void sec_rlimits(buf_t *b)
{
	j_key(b, "rlimits");
	j_open(b, '{');
	for (size_t i = 0; i < sizeof rlims / sizeof rlims[0]; i++) {
		struct rlimit rl;
		j_key(b, rlims[i].name);
		if (getrlimit((__rlimit_resource_t)rlims[i].num, &rl) < 0) {
			j_null(b);
			continue;
		}
		j_open(b, '{');
		j_key(b, "cur");
		j_rlimval(b, rl.rlim_cur);
		j_key(b, "max");
		j_rlimval(b, rl.rlim_max);
		j_close(b, '}');
	}
	j_close(b, '}');
}

/* mountinfo escapes space, tab, newline and backslash as \ooo */
static void unescape_octal(char *s)
{
	char *d = s;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '7' && s[2] >= '0' && s[2] <= '7' &&
		    s[3] >= '0' && s[3] <= '7') {
			*d++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
			s += 4;
		} else
			*d++ = *s++;
	}
	*d = 0;
}

static int opt_in_list(const char *list, const char *opt, size_t n)
{
	const char *p = list;
	while (*p) {
		const char *c = strchr(p, ',');
		size_t l = c ? (size_t)(c - p) : strlen(p);
		if (l == n && !strncmp(p, opt, n))
			return 1;
		if (!c)
			break;
		p = c + 1;
	}
	return 0;
}

static void sec_mounts(buf_t *b)
{
	size_t len;
	char *mi = g_proc ? read_file("/proc/self/mountinfo", 16 << 20, &len) : NULL;
	j_key(b, "mounts");
	if (!mi) {
		j_null(b);
		return;
	}
	j_open(b, '[');
	char *save = NULL;
	for (char *line = strtok_r(mi, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *tok[64];
		int nt = 0;
		char *s2 = NULL;
		for (char *t = strtok_r(line, " ", &s2); t && nt < 64; t = strtok_r(NULL, " ", &s2))
			tok[nt++] = t;
		int dash = -1;
		for (int i = 6; i < nt; i++)
			if (!strcmp(tok[i], "-")) {
				dash = i;
				break;
			}
		if (nt < 6 || dash < 0 || dash + 3 >= nt + 1)
			continue;
		const char *fstype = dash + 1 < nt ? tok[dash + 1] : "";
		char *source = dash + 2 < nt ? tok[dash + 2] : NULL;
		const char *superopts = dash + 3 < nt ? tok[dash + 3] : "";
		unescape_octal(tok[3]);
		unescape_octal(tok[4]);
		if (source)
			unescape_octal(source);
		buf_t o = {0};
		b_puts(&o, tok[5]);
		const char *p = superopts;
		while (*p) {
			const char *c = strchr(p, ',');
			size_t l = c ? (size_t)(c - p) : strlen(p);
			int skip = (l == 2 && (!strncmp(p, "rw", 2) || !strncmp(p, "ro", 2))) ||
				   opt_in_list(o.p, p, l);
			if (!skip && l > 0) {
				b_putc(&o, ',');
				b_putn(&o, p, l);
			}
			if (!c)
				break;
			p = c + 1;
		}
		j_open(b, '{');
		k_str(b, "mountpoint", tok[4]);
		k_str(b, "fstype", fstype);
		k_str(b, "source", source);
		k_str(b, "options", o.p);
		k_str(b, "root", tok[3]);
		k_str(b, "mountOptions", tok[5]);
		k_str(b, "superOptions", superopts);
		j_key(b, "propagation");
		j_open(b, '[');
		for (int i = 6; i < dash; i++)
			j_str(b, tok[i]);
		j_close(b, ']');
		k_int(b, "id", atoi(tok[0]));
		k_int(b, "parent", atoi(tok[1]));
		j_close(b, '}');
		b_free(&o);
	}
	j_close(b, ']');
	free(mi);
}

#define MAXIF 256
static void sec_net(buf_t *b)
{
	char names[MAXIF][IF_NAMESIZE + 1];
	int idx[MAXIF];
	int n = 0;
	const char *source = NULL;

	struct if_nameindex *ni = if_nameindex();
	if (ni) {
		source = "netlink";
		for (struct if_nameindex *p = ni; p->if_index && n < MAXIF; p++) {
			snprintf(names[n], sizeof names[n], "%s", p->if_name);
			idx[n++] = (int)p->if_index;
		}
		if_freenameindex(ni);
	}
	if (!source && g_proc) {
		char *d = read_file("/proc/net/dev", 1 << 20, NULL);
		if (d) {
			source = "proc";
			char *save = NULL;
			int ln = 0;
			for (char *line = strtok_r(d, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
				if (ln++ < 2)
					continue;
				char *c = strchr(line, ':');
				if (!c)
					continue;
				*c = 0;
				while (*line == ' ')
					line++;
				if (n < MAXIF) {
					snprintf(names[n], sizeof names[n], "%s", line);
					idx[n++] = 0;
				}
			}
			free(d);
		}
	}
	int inet = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (!source && inet >= 0) {
		struct ifreq req[64];
		struct ifconf ifc;
		ifc.ifc_len = sizeof req;
		ifc.ifc_req = req;
		if (ioctl(inet, SIOCGIFCONF, &ifc) == 0) {
			source = "ifconf";
			for (size_t i = 0; i < ifc.ifc_len / sizeof req[0] && n < MAXIF; i++) {
				int dup = 0;
				for (int k = 0; k < n; k++)
					if (!strcmp(names[k], req[i].ifr_name))
						dup = 1;
				if (dup)
					continue;
				snprintf(names[n], sizeof names[n], "%s", req[i].ifr_name);
				idx[n++] = 0;
			}
		}
	}
	k_str(b, "netSource", source);
	j_key(b, "net");
	if (!source) {
		j_null(b);
		if (inet >= 0)
			close(inet);
		return;
	}
	int us = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int fsock = us >= 0 ? us : inet;
	j_open(b, '[');
	for (int i = 0; i < n; i++) {
		struct ifreq r;
		memset(&r, 0, sizeof r);
		memcpy(r.ifr_name, names[i], IF_NAMESIZE - 1);
		j_open(b, '{');
		k_str(b, "name", names[i]);
		j_key(b, "index");
		if (idx[i])
			j_int(b, idx[i]);
		else
			j_null(b);
		if (fsock >= 0 && ioctl(fsock, SIOCGIFFLAGS, &r) == 0) {
			k_bool(b, "up", !!(r.ifr_flags & IFF_UP));
			k_bool(b, "running", !!(r.ifr_flags & IFF_RUNNING));
			k_bool(b, "loopback", !!(r.ifr_flags & IFF_LOOPBACK));
		} else {
			k_null(b, "up");
			k_null(b, "running");
			k_null(b, "loopback");
		}
		j_key(b, "ipv4");
		memset(&r, 0, sizeof r);
		memcpy(r.ifr_name, names[i], IF_NAMESIZE - 1);
		r.ifr_addr.sa_family = AF_INET;
		if (inet >= 0 && ioctl(inet, SIOCGIFADDR, &r) == 0) {
			char a[INET_ADDRSTRLEN];
			struct sockaddr_in sin;
			memcpy(&sin, &r.ifr_addr, sizeof sin);
			j_str(b, inet_ntop(AF_INET, &sin.sin_addr, a, sizeof a));
		} else
			j_null(b);
		j_close(b, '}');
	}
	j_close(b, ']');
	if (us >= 0)
		close(us);
	if (inet >= 0)
		close(inet);
}

static void sec_env(buf_t *b)
{
	j_key(b, "env");
	j_open(b, '[');
	for (char **e = environ; e && *e; e++)
		j_str(b, *e);
	j_close(b, ']');
}

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;
	return (x > y) - (x < y);
}

static void sec_fds(buf_t *b)
{
	DIR *d = g_proc ? opendir("/proc/self/fd") : NULL;
	if (d) {
		int self = dirfd(d);
		int cap = 64, n = 0;
		int *fds = malloc((size_t)cap * sizeof *fds);
		struct dirent *de;
		while (fds && (de = readdir(d))) {
			if (!is_numeric(de->d_name))
				continue;
			int fd = atoi(de->d_name);
			if (fd == self)
				continue;
			if (n == cap) {
				cap *= 2;
				int *nf = realloc(fds, (size_t)cap * sizeof *fds);
				if (!nf)
					break;
				fds = nf;
			}
			fds[n++] = fd;
		}
		closedir(d);
		if (fds)
			qsort(fds, (size_t)n, sizeof *fds, cmp_int);
		k_str(b, "fdsSource", "proc");
		j_key(b, "fds");
		j_open(b, '[');
		for (int i = 0; i < n; i++)
			j_int(b, fds[i]);
		j_close(b, ']');
		j_key(b, "fdTargets");
		j_open(b, '{');
		for (int i = 0; i < n; i++) {
			char p[64], t[PATH_MAX], k[16];
			snprintf(p, sizeof p, "/proc/self/fd/%d", fds[i]);
			snprintf(k, sizeof k, "%d", fds[i]);
			ssize_t l = readlink(p, t, sizeof t - 1);
			j_key(b, k);
			if (l < 0)
				j_null(b);
			else
				j_strn(b, t, (size_t)l);
		}
		j_close(b, '}');
		free(fds);
		return;
	}
	k_str(b, "fdsSource", "fcntl");
	j_key(b, "fds");
	j_open(b, '[');
	for (int fd = 0; fd < 1024; fd++)
		if (fcntl(fd, F_GETFD) >= 0)
			j_int(b, fd);
	j_close(b, ']');
	k_null(b, "fdTargets");
}

static void sec_misc(buf_t *b)
{
	errno = 0;
	int nice = getpriority(PRIO_PROCESS, 0);
	j_key(b, "nice");
	if (nice == -1 && errno)
		j_null(b);
	else
		j_int(b, nice);

	int pers = personality(0xffffffff);
	j_key(b, "personality");
	if (pers < 0)
		j_null(b);
	else
		j_int(b, pers);

	int tsc = 0;
	j_key(b, "tsc");
	if (prctl(PR_GET_TSC, &tsc, 0, 0, 0) < 0)
		j_null(b);
	else
		j_int(b, tsc);

	j_key(b, "oomScoreAdj");
	char *o = g_proc ? read_file("/proc/self/oom_score_adj", 64, NULL) : NULL;
	if (o)
		j_int(b, atoi(o));
	else
		j_null(b);
	free(o);

	mode_t m = umask(0);
	umask(m);
	char t[16];
	snprintf(t, sizeof t, "%04o", (unsigned)m);
	k_str(b, "umask", t);

	int r = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0);
	j_key(b, "dumpable");
	if (r < 0)
		j_null(b);
	else
		j_int(b, r);

	int pd = 0;
	j_key(b, "pdeathsig");
	if (prctl(PR_GET_PDEATHSIG, &pd, 0, 0, 0) < 0)
		j_null(b);
	else
		j_int(b, pd);

	int sr = 0;
	j_key(b, "childSubreaper");
	if (prctl(PR_GET_CHILD_SUBREAPER, &sr, 0, 0, 0) < 0)
		j_null(b);
	else
		j_int(b, sr);

	char comm[17] = {0};
	j_key(b, "comm");
	if (prctl(PR_GET_NAME, comm, 0, 0, 0) < 0)
		j_null(b);
	else
		j_str(b, comm);

	cpu_set_t cs;
	j_key(b, "cpus");
	if (sched_getaffinity(0, sizeof cs, &cs) < 0)
		j_null(b);
	else
		j_int(b, CPU_COUNT(&cs));

	j_key(b, "isatty");
	j_open(b, '[');
	for (int fd = 0; fd < 3; fd++)
		j_bool(b, isatty(fd));
	j_close(b, ']');

	sigset_t set;
	j_key(b, "sigBlocked");
	if (sigprocmask(SIG_BLOCK, NULL, &set) < 0)
		j_null(b);
	else {
		j_open(b, '[');
		for (int s = 1; s < 65; s++)
			if (sigismember(&set, s) == 1)
				j_int(b, s);
		j_close(b, ']');
	}
	j_key(b, "sigIgnored");
	j_open(b, '[');
	for (int s = 1; s < 65; s++) {
		struct sigaction sa;
		if (sigaction(s, NULL, &sa) == 0 && !(sa.sa_flags & SA_SIGINFO) && sa.sa_handler == SIG_IGN)
			j_int(b, s);
	}
	j_close(b, ']');
}

static void sec_userns(buf_t *b)
{
	j_key(b, "userns");
	j_open(b, '{');
	if (g_proc) {
		k_file(b, "uidMap", "/proc/self/uid_map");
		k_file(b, "gidMap", "/proc/self/gid_map");
		k_file(b, "setgroups", "/proc/self/setgroups");
	} else {
		k_null(b, "uidMap");
		k_null(b, "gidMap");
		k_null(b, "setgroups");
	}
	j_close(b, '}');
}

static void sec_cgroup(buf_t *b)
{
	if (g_proc)
		k_file(b, "cgroup", "/proc/self/cgroup");
	else
		k_null(b, "cgroup");
}

static void sec_pids(buf_t *b)
{
	DIR *d = g_proc ? opendir("/proc") : NULL;
	if (!d) {
		k_null(b, "pidsVisible");
		k_null(b, "pidList");
		return;
	}
	int n = 0;
	buf_t l = {0};
	b_putc(&l, '[');
	struct dirent *de;
	while ((de = readdir(d))) {
		if (!is_numeric(de->d_name))
			continue;
		n++;
		j_int(&l, atoll(de->d_name));
	}
	closedir(d);
	b_putc(&l, ']');
	k_int(b, "pidsVisible", n);
	j_key(b, "pidList");
	j_raw(b, l.p);
	b_free(&l);
}

static void sec_ns(buf_t *b)
{
	static const char *const nss[] = {"cgroup", "ipc", "mnt", "net", "pid", "pid_for_children",
					  "time", "time_for_children", "user", "uts"};
	j_key(b, "ns");
	if (!g_proc) {
		j_null(b);
		return;
	}
	j_open(b, '{');
	for (size_t i = 0; i < sizeof nss / sizeof nss[0]; i++) {
		char p[64], t[128];
		snprintf(p, sizeof p, "/proc/self/ns/%s", nss[i]);
		ssize_t l = readlink(p, t, sizeof t - 1);
		j_key(b, nss[i]);
		if (l < 0)
			j_null(b);
		else
			j_strn(b, t, (size_t)l);
	}
	j_close(b, '}');
}

/* ------------------------------------------------------------------ */
/* Check results store: groups keyed by argument, or single (last wins) */
/* ------------------------------------------------------------------ */

typedef struct {
	const char *group;
	char *key; /* NULL for single-valued groups */
	char *json;
} result_t;

static result_t *g_res;
static size_t g_nres;

static void add_result(const char *group, const char *key, buf_t *frag)
{
	result_t *n = realloc(g_res, (g_nres + 1) * sizeof *g_res);
	if (!n)
		die_oom();
	g_res = n;
	g_res[g_nres].group = group;
	g_res[g_nres].key = key ? strdup(key) : NULL;
	g_res[g_nres].json = frag->p ? frag->p : strdup("null");
	g_nres++;
	frag->p = NULL;
	frag->len = frag->cap = 0;
}

static void emit_results(buf_t *b)
{
	for (size_t i = 0; i < g_nres; i++) {
		int seen = 0;
		for (size_t k = 0; k < i; k++)
			if (!strcmp(g_res[k].group, g_res[i].group))
				seen = 1;
		if (seen)
			continue;
		j_key(b, g_res[i].group);
		if (!g_res[i].key) {
			size_t last = i;
			for (size_t k = i + 1; k < g_nres; k++)
				if (!strcmp(g_res[k].group, g_res[i].group))
					last = k;
			j_raw(b, g_res[last].json);
			continue;
		}
		j_open(b, '{');
		for (size_t k = i; k < g_nres; k++) {
			if (strcmp(g_res[k].group, g_res[i].group))
				continue;
			int later = 0;
			for (size_t m = k + 1; m < g_nres; m++)
				if (!strcmp(g_res[m].group, g_res[k].group) && !strcmp(g_res[m].key, g_res[k].key))
					later = 1;
			if (later)
				continue;
			j_key(b, g_res[k].key);
			j_raw(b, g_res[k].json);
		}
		j_close(b, '}');
	}
}

/* ------------------------------------------------------------------ */
/* Checks                                                              */
/* ------------------------------------------------------------------ */

static void check_path(const char *path)
{
	buf_t b = {0};
	struct stat st;
	j_open(&b, '{');
	if (lstat(path, &st) < 0) {
		int e = errno;
		k_bool(&b, "exists", 0);
		k_errno2(&b, "lstatErrno", "lstatErrnoNum", e);
		j_close(&b, '}');
		add_result("paths", path, &b);
		return;
	}
	k_bool(&b, "exists", 1);
	const char *type = S_ISDIR(st.st_mode) ? "dir" : S_ISREG(st.st_mode) ? "file" : S_ISLNK(st.st_mode) ? "symlink" : "other";
	k_str(&b, "type", type);
	if (S_ISLNK(st.st_mode)) {
		char t[PATH_MAX];
		ssize_t l = readlink(path, t, sizeof t - 1);
		j_key(&b, "target");
		if (l < 0)
			j_null(&b);
		else
			j_strn(&b, t, (size_t)l);
	}
	char t[16];
	snprintf(t, sizeof t, "%04o", (unsigned)(st.st_mode & 07777));
	k_str(&b, "mode", t);
	k_int(&b, "uid", st.st_uid);
	k_int(&b, "gid", st.st_gid);
	k_int(&b, "size", st.st_size);
	if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		snprintf(t, sizeof t, "%u:%u", major(st.st_rdev), minor(st.st_rdev));
		k_str(&b, "rdev", t);
	}
	k_bool(&b, "readable", access(path, R_OK) == 0);
	int w = access(path, W_OK);
	int we = errno;
	k_bool(&b, "writable", w == 0);
	k_errno2(&b, "accessErrno", "accessErrnoNum", w == 0 ? 0 : we);

	/* Actual write attempt, without changing content. */
	struct stat tst;
	int werr = 0, tested = 0;
	if (stat(path, &tst) < 0) {
		werr = errno;
	} else if (S_ISDIR(tst.st_mode)) {
		char f[PATH_MAX];
		tested = 1;
		for (int i = 0; i < 3; i++) {
			snprintf(f, sizeof f, "%s/.probe-%d-%d", path, (int)getpid(), i);
			int fd = open(f, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			if (fd >= 0) {
				close(fd);
				unlink(f);
				werr = 0;
				break;
			}
			werr = errno;
			if (werr != EEXIST)
				break;
		}
	} else if (strstr(path, "watchdog")) {
		werr = 0; /* never open a watchdog device for writing */
	} else {
		tested = 1;
		int fd = open(path, O_WRONLY | O_APPEND | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd >= 0)
			close(fd);
		else
			werr = errno;
	}
	k_bool(&b, "writeTested", tested);
	k_errno2(&b, "writeErrno", "writeErrnoNum", werr);
	j_close(&b, '}');
	add_result("paths", path, &b);
}

/* ---- syscall checks: run in a forked child, results via shared memory ---- */

struct shared {
	volatile int done;
	long ret;
	int err;
	char extra[1024]; /* JSON members, no braces, may be empty */
};

static const char *tmp_bases[] = {"/tmp", "/dev/shm", "/var/tmp", NULL};
static const char *g_argv0;

static int make_tmpdir(char *out, size_t n, const char *prefix)
{
	int e = ENOENT;
	for (int i = 0; tmp_bases[i]; i++) {
		snprintf(out, n, "%s/%s-XXXXXX", tmp_bases[i], prefix);
		if (mkdtemp(out))
			return 0;
		e = errno;
	}
	errno = e;
	return -1;
}

static void extra_printf(struct shared *s, const char *fmt, ...)
{
	size_t l = strlen(s->extra);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->extra + l, sizeof s->extra - l, fmt, ap);
	va_end(ap);
}

static long sc_mount_tmpfs(struct shared *s)
{
	char dir[PATH_MAX];
	const char *target = NULL;
	int fresh = 0;
	if (make_tmpdir(dir, sizeof dir, "probe-mnt") == 0) {
		target = dir;
		fresh = 1;
	} else {
		/* Mount over an existing absolute directory, unmounted right away. */
		static const char *const cands[] = {"/tmp", "/mnt", "/opt", "/srv", "/media", "/home", "/root", NULL};
		struct stat st;
		for (int i = 0; cands[i] && !target; i++)
			if (stat(cands[i], &st) == 0 && S_ISDIR(st.st_mode))
				target = cands[i];
		if (!target && g_argv0 && g_argv0[0] == '/') {
			snprintf(dir, sizeof dir, "%s", g_argv0);
			char *sl = strrchr(dir, '/');
			if (sl && sl != dir) {
				*sl = 0;
				target = dir;
			}
		}
	}
	/* Last resort: the root itself. A mount stacked on "/" is not reached by
	 * looking up "/" again, but ".." at the root crosses into it. */
	const char *utarget = target;
	if (!target) {
		target = "/";
		utarget = "/..";
	}
	buf_t b = {0};
	k_str(&b, "target", target);
	k_bool(&b, "freshDir", fresh);
	long r = mount("probe", target, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k");
	int e = errno;
	if (r == 0) {
		int u = umount2(utarget, MNT_DETACH);
		k_errno2(&b, "umountErrno", "umountErrnoNum", u == 0 ? 0 : errno);
	}
	if (fresh)
		rmdir(dir);
	extra_printf(s, "%s", b.p);
	b_free(&b);
	errno = e;
	return r;
}

static long sc_mknod(struct shared *s)
{
	char dir[PATH_MAX], f[PATH_MAX + 8];
	if (make_tmpdir(dir, sizeof dir, "probe-mknod") < 0) {
		extra_printf(s, "\"stage\":\"mkdtemp\"");
		return -1;
	}
	snprintf(f, sizeof f, "%s/null", dir);
	long r = mknod(f, S_IFCHR | 0600, makedev(1, 3));
	int e = errno;
	unlink(f);
	rmdir(dir);
	errno = e;
	return r;
}

static long sc_sethostname(struct shared *s)
{
	(void)s;
	struct utsname u;
	if (uname(&u) < 0)
		return -1;
	return sethostname(u.nodename, strlen(u.nodename));
}

static long sc_close(long fd)
{
	if (fd >= 0)
		close((int)fd);
	return fd;
}

#define SC(name, expr)                                                                             \
	static long sc_##name(struct shared *s)                                                    \
	{                                                                                          \
		(void)s;                                                                           \
		return (expr);                                                                     \
	}
SC(unshare_user, unshare(CLONE_NEWUSER))
SC(unshare_ns, unshare(CLONE_NEWNS))
SC(unshare_net, unshare(CLONE_NEWNET))
SC(unshare_pid, unshare(CLONE_NEWPID))
SC(unshare_uts, unshare(CLONE_NEWUTS))
SC(unshare_ipc, unshare(CLONE_NEWIPC))
SC(unshare_cgroup, unshare(CLONE_NEWCGROUP))
SC(ptrace_traceme, ptrace(PTRACE_TRACEME, 0, NULL, NULL))
SC(chroot, chroot("/"))
SC(setuid0, setuid(0))
SC(setgid0, setgid(0))
SC(setgroups, setgroups(0, NULL))
SC(socket_inet, sc_close(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)))
SC(socket_inet6, sc_close(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0)))
SC(socket_unix, sc_close(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)))
SC(socket_netlink, sc_close(socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, 0)))
SC(socket_raw, sc_close(socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP)))
SC(socket_packet, sc_close(socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0)))
SC(uname, ({ struct utsname u; uname(&u); }))
/* Bad magic: the kernel checks CAP_SYS_BOOT first (EPERM), then the magic
 * (EINVAL), so this reports the permission without ever doing anything. */
SC(reboot, syscall(SYS_reboot, 0, 0, LINUX_REBOOT_CMD_CAD_OFF, NULL))
SC(keyctl, syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0))
SC(bpf, syscall(SYS_bpf, 5 /* BPF_PROG_LOAD */, NULL, 0))
SC(perf_event_open, syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0))
SC(kill_init, kill(1, 0))
SC(getppid, getppid())
SC(init_module, syscall(SYS_init_module, NULL, 0, ""))
SC(open_by_handle_at, syscall(SYS_open_by_handle_at, AT_FDCWD, NULL, O_RDONLY))
SC(io_uring_setup, syscall(SYS_io_uring_setup, 1, NULL))
SC(userfaultfd, sc_close(syscall(SYS_userfaultfd, O_CLOEXEC)))
SC(nice_neg, setpriority(PRIO_PROCESS, 0, -1))
SC(mlock, ({ static char pg[4096] __attribute__((aligned(4096))); mlock(pg, sizeof pg); }))
#undef SC

static const struct {
	const char *name;
	long (*fn)(struct shared *);
} syscall_checks[] = {
#define X(n) {#n, sc_##n}
	X(unshare_user), X(unshare_ns), X(unshare_net), X(unshare_pid), X(unshare_uts),
	X(unshare_ipc), X(unshare_cgroup), X(mount_tmpfs), X(ptrace_traceme), X(chroot),
	X(sethostname), X(setuid0), X(setgid0), X(setgroups), X(socket_inet), X(socket_inet6),
	X(socket_unix), X(socket_netlink), X(socket_raw), X(socket_packet), X(uname), X(reboot),
	X(keyctl), X(bpf), X(perf_event_open), X(kill_init), X(getppid), X(init_module),
	X(open_by_handle_at), X(io_uring_setup), X(userfaultfd), X(nice_neg), X(mlock), X(mknod),
#undef X
};
#define NSYSCHECKS (sizeof syscall_checks / sizeof syscall_checks[0])

static int find_syscall_check(const char *name)
{
	for (size_t i = 0; i < NSYSCHECKS; i++)
		if (!strcmp(syscall_checks[i].name, name))
			return (int)i;
	return -1;
}

static void j_wait_status(buf_t *b, int status)
{
	char t[16];
	if (WIFSIGNALED(status)) {
		k_int(b, "signal", WTERMSIG(status));
		k_str(b, "signalName", sig_name(WTERMSIG(status), t, sizeof t));
		k_bool(b, "core", WCOREDUMP(status));
	} else if (WIFEXITED(status))
		k_int(b, "exitCode", WEXITSTATUS(status));
}

static pid_t wait_child(pid_t pid, int *status)
{
	pid_t r;
	do
		r = waitpid(pid, status, 0);
	while (r < 0 && errno == EINTR);
	return r;
}

static void check_syscall(int i)
{
	buf_t b = {0};
	j_open(&b, '{');
	struct shared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		k_str(&b, "error", "mmap");
		k_errno(&b, errno);
		goto out;
	}
	memset(sh, 0, sizeof *sh);
	pid_t pid = fork();
	if (pid < 0) {
		k_str(&b, "error", "fork");
		k_errno(&b, errno);
		munmap(sh, sizeof *sh);
		goto out;
	}
	if (pid == 0) {
		errno = 0;
		long r = syscall_checks[i].fn(sh);
		sh->err = r == -1 ? errno : 0;
		sh->ret = r;
		sh->done = 1;
		_exit(0);
	}
	int status = 0;
	if (wait_child(pid, &status) < 0) {
		k_str(&b, "error", "waitpid");
		k_errno(&b, errno);
	} else if (sh->done && WIFEXITED(status)) {
		k_bool(&b, "ok", sh->ret >= 0);
		k_int(&b, "ret", sh->ret);
		k_errno(&b, sh->err);
		if (sh->extra[0]) {
			b_putc(&b, ',');
			b_puts(&b, sh->extra);
		}
	} else {
		j_wait_status(&b, status);
	}
	munmap(sh, sizeof *sh);
out:
	j_close(&b, '}');
	add_result("syscalls", syscall_checks[i].name, &b);
}

/* ---- network ---- */

static int parse_hostport(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[128];
	const char *port;
	memset(ss, 0, sizeof *ss);
	if (s[0] == '[') {
		const char *e = strchr(s, ']');
		if (!e || e[1] != ':' || (size_t)(e - s - 1) >= sizeof host)
			return -1;
		memcpy(host, s + 1, (size_t)(e - s - 1));
		host[e - s - 1] = 0;
		port = e + 2;
	} else {
		const char *c = strrchr(s, ':');
		if (!c || (size_t)(c - s) >= sizeof host)
			return -1;
		memcpy(host, s, (size_t)(c - s));
		host[c - s] = 0;
		port = c + 1;
	}
	long long p;
	if (parse_ll(port, &p) < 0 || p < 0 || p > 65535)
		return -1;
	struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
	if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
		a4->sin_family = AF_INET;
		a4->sin_port = htons((uint16_t)p);
		*sl = sizeof *a4;
		return 0;
	}
	if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
		a6->sin6_family = AF_INET6;
		a6->sin6_port = htons((uint16_t)p);
		*sl = sizeof *a6;
		return 0;
	}
	return -1;
}

/* Non-blocking connect with a timeout; returns 0 or an errno. */
static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t sl, int ms)
{
	int fl = fcntl(fd, F_GETFL);
	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	if (connect(fd, sa, sl) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	struct pollfd p = {fd, POLLOUT, 0};
	int r;
	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno;
	if (r == 0)
		return ETIMEDOUT;
	int err = 0;
	socklen_t el = sizeof err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) < 0)
		return errno;
	fcntl(fd, F_SETFL, fl);
	return err;
}

static void check_connect(const char *arg)
{
	buf_t b = {0};
	struct sockaddr_storage ss;
	socklen_t sl;
	j_open(&b, '{');
	if (parse_hostport(arg, &ss, &sl) < 0) {
		k_bool(&b, "ok", 0);
		k_str(&b, "error", "bad address");
		k_errno(&b, EINVAL);
	} else {
		int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			int e = errno;
			k_bool(&b, "ok", 0);
			k_str(&b, "stage", "socket");
			k_errno(&b, e);
		} else {
			int e = connect_timeout(fd, (struct sockaddr *)&ss, sl, 1000);
			k_bool(&b, "ok", e == 0);
			if (e)
				k_str(&b, "stage", "connect");
			k_errno(&b, e);
			close(fd);
		}
	}
	j_close(&b, '}');
	add_result("connect", arg, &b);
}

static void check_listen(long long port)
{
	buf_t b = {0};
	const char *stage = NULL;
	int e = 0, ls = -1, cs = -1, as = -1;
	struct sockaddr_in sa;
	socklen_t sl = sizeof sa;
	memset(&sa, 0, sizeof sa);
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	int one = 1;
	if ((ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		stage = "socket";
		goto fail;
	}
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	if (bind(ls, (struct sockaddr *)&sa, sizeof sa) < 0) {
		stage = "bind";
		goto fail;
	}
	if (listen(ls, 4) < 0) {
		stage = "listen";
		goto fail;
	}
	if (getsockname(ls, (struct sockaddr *)&sa, &sl) < 0) {
		stage = "getsockname";
		goto fail;
	}
	if ((cs = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		stage = "socket";
		goto fail;
	}
	if ((e = connect_timeout(cs, (struct sockaddr *)&sa, sizeof sa, 1000)) != 0) {
		stage = "connect";
		errno = e;
		goto fail;
	}
	struct pollfd p = {ls, POLLIN, 0};
	if (poll(&p, 1, 1000) <= 0) {
		stage = "accept";
		errno = ETIMEDOUT;
		goto fail;
	}
	if ((as = accept(ls, NULL, NULL)) < 0) {
		stage = "accept";
		goto fail;
	}
	errno = 0;
fail:
	e = stage ? errno : 0;
	j_open(&b, '{');
	k_bool(&b, "ok", stage == NULL);
	k_int(&b, "port", stage && !strcmp(stage, "socket") ? port : ntohs(sa.sin_port));
	k_str(&b, "stage", stage);
	k_errno(&b, e);
	j_close(&b, '}');
	if (as >= 0)
		close(as);
	if (cs >= 0)
		close(cs);
	if (ls >= 0)
		close(ls);
	add_result("listen", NULL, &b);
}

/* ---- resources ---- */

static void check_write(const char *path, long long bytes)
{
	static const char zeros[65536];
	buf_t b = {0};
	struct sigaction sa, old;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	sigaction(SIGXFSZ, &sa, &old);
	long long written = 0;
	int e = 0;
	const char *stage = "open";
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOCTTY, 0644);
	if (fd < 0)
		e = errno;
	else {
		stage = "write";
		while (written < bytes) {
			size_t n = sizeof zeros;
			if ((long long)n > bytes - written)
				n = (size_t)(bytes - written);
			ssize_t r = write(fd, zeros, n);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				e = errno;
				break;
			}
			written += r;
		}
		if (close(fd) < 0 && !e) {
			e = errno;
			stage = "close";
		}
	}
	sigaction(SIGXFSZ, &old, NULL);
	j_open(&b, '{');
	k_str(&b, "path", path);
	k_int(&b, "requested", bytes);
	k_int(&b, "written", written);
	k_str(&b, "stage", e ? stage : NULL);
	k_errno(&b, e);
	j_close(&b, '}');
	add_result("write", NULL, &b);
}

static void check_alloc(long long mib)
{
	buf_t b = {0};
	const size_t step = 16;
	size_t nchunks = (size_t)((mib + 15) / 16);
	void **chunks = calloc(nchunks ? nchunks : 1, sizeof *chunks);
	size_t *sizes = calloc(nchunks ? nchunks : 1, sizeof *sizes);
	long long got = 0;
	int e = 0;
	if (!chunks || !sizes)
		e = ENOMEM;
	for (size_t i = 0; !e && i < nchunks; i++) {
		size_t m = (size_t)(mib - got) < step ? (size_t)(mib - got) : step;
		size_t len = m << 20;
		void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED) {
			e = errno;
			break;
		}
		memset(p, 0x5a, len);
		volatile char *vp = p; /* keep the stores */
		(void)vp[len - 1];
		chunks[i] = p;
		sizes[i] = len;
		got += (long long)m;
	}
	for (size_t i = 0; chunks && sizes && i < nchunks; i++)
		if (chunks[i])
			munmap(chunks[i], sizes[i]);
	free(chunks);
	free(sizes);
	j_open(&b, '{');
	k_int(&b, "requestedMiB", mib);
	k_int(&b, "gotMiB", got);
	k_bool(&b, "ok", got == mib);
	k_errno(&b, e);
	j_close(&b, '}');
	add_result("alloc", NULL, &b);
}

static void check_fork(long long n)
{
	buf_t b = {0};
	pid_t *pids = calloc((size_t)(n > 0 ? n : 1), sizeof *pids);
	long long forked = 0;
	int e = 0;
	if (!pids)
		e = ENOMEM;
	pid_t parent = getpid();
	for (long long i = 0; !e && i < n; i++) {
		pid_t p = fork();
		if (p < 0) {
			e = errno;
			break;
		}
		if (p == 0) {
			prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
			prctl(PR_SET_NAME, "probe-fork", 0, 0, 0);
			if (getppid() != parent)
				_exit(0);
			for (;;)
				pause();
		}
		pids[forked++] = p;
	}
	for (long long i = 0; i < forked; i++)
		kill(pids[i], SIGKILL);
	for (long long i = 0; i < forked; i++) {
		int st;
		wait_child(pids[i], &st);
	}
	free(pids);
	j_open(&b, '{');
	k_int(&b, "requested", n);
	k_int(&b, "forked", forked);
	k_bool(&b, "ok", forked == n);
	k_errno(&b, e);
	j_close(&b, '}');
	add_result("fork", NULL, &b);
}

static double tv_ms(struct timeval tv) { return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0; }

static void check_spin(double secs)
{
	buf_t b = {0};
	struct rusage r0, r1;
	getrusage(RUSAGE_SELF, &r0);
	double t0 = mono_now(), end = t0 + secs, now = t0;
	volatile unsigned long x = 0;
	while (now < end) {
		for (unsigned long i = 0; i < 20000; i++)
			x += i;
		now = mono_now();
	}
	getrusage(RUSAGE_SELF, &r1);
	j_open(&b, '{');
	j_key(&b, "seconds");
	j_num(&b, secs);
	j_key(&b, "wallMs");
	j_num(&b, (now - t0) * 1000.0);
	j_key(&b, "userMs");
	j_num(&b, tv_ms(r1.ru_utime) - tv_ms(r0.ru_utime));
	j_key(&b, "sysMs");
	j_num(&b, tv_ms(r1.ru_stime) - tv_ms(r0.ru_stime));
	j_close(&b, '}');
	add_result("spin", NULL, &b);
}

static void check_sleep(double secs)
{
	buf_t b = {0};
	double t0 = mono_now();
	sleep_secs(secs);
	j_open(&b, '{');
	j_key(&b, "seconds");
	j_num(&b, secs);
	j_key(&b, "wallMs");
	j_num(&b, (mono_now() - t0) * 1000.0);
	j_close(&b, '}');
	add_result("sleep", NULL, &b);
}

struct dshared {
	volatile int ready;
	pid_t pid;
	int err;
};

static void check_daemonize(double secs)
{
	buf_t b = {0};
	j_open(&b, '{');
	struct dshared *sh = mmap(NULL, sizeof *sh, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		k_null(&b, "pid");
		k_str(&b, "stage", "mmap");
		k_errno(&b, errno);
		goto out;
	}
	memset(sh, 0, sizeof *sh);
	pid_t a = fork();
	if (a < 0) {
		k_null(&b, "pid");
		k_str(&b, "stage", "fork");
		k_errno(&b, errno);
		goto out;
	}
	if (a == 0) {
		setsid();
		pid_t g = fork();
		if (g == 0) {
			prctl(PR_SET_NAME, "probe-daemon", 0, 0, 0);
			int fd = open("/dev/null", O_RDWR);
			for (int i = 0; i < 3; i++) {
				if (fd >= 0)
					dup2(fd, i);
				else
					close(i);
			}
			if (fd > 2)
				close(fd);
			sleep_secs(secs);
			_exit(0);
		}
		sh->pid = g;
		sh->err = g < 0 ? errno : 0;
		sh->ready = 1;
		_exit(g < 0 ? 1 : 0);
	}
	int st;
	wait_child(a, &st);
	if (!sh->ready || sh->pid <= 0) {
		k_null(&b, "pid");
		k_str(&b, "stage", "fork2");
		k_errno(&b, sh->ready ? sh->err : ECHILD);
	} else {
		pid_t g = sh->pid;
		k_int(&b, "pid", g);
		k_int(&b, "sid", getsid(g));
		k_int(&b, "intermediatePid", a);
		char p[64], v[256];
		snprintf(p, sizeof p, "/proc/%d/status", (int)g);
		char *s = g_proc ? read_file(p, 1 << 20, NULL) : NULL;
		j_key(&b, "nspid");
		if (s && status_field(s, "NSpid", v, sizeof v) == 0)
			j_str(&b, v);
		else
			j_null(&b);
		free(s);
		k_str(&b, "comm", "probe-daemon");
		k_errno(&b, 0);
	}
	munmap(sh, sizeof *sh);
out:
	j_close(&b, '}');
	/* daemonPid duplicated at top level for convenience */
	const char *q = strstr(b.p, "\"pid\":");
	buf_t pb = {0};
	if (q) {
		long long v = strtoll(q + 6, NULL, 10);
		if (v > 0)
			b_printf(&pb, "%lld", v);
	}
	if (!pb.p)
		b_puts(&pb, "null");
	add_result("daemon", NULL, &b);
	add_result("daemonPid", NULL, &pb);
}

static void check_stdin(void)
{
	buf_t b = {0};
	sha1_t s;
	sha1_init(&s);
	char text[200];
	size_t tl = 0;
	long long total = 0;
	int e = 0;
	char chunk[65536];
	for (;;) {
		ssize_t r = read(0, chunk, sizeof chunk);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			e = errno;
			break;
		}
		if (r == 0)
			break;
		sha1_update(&s, (unsigned char *)chunk, (size_t)r);
		if (tl < sizeof text) {
			size_t take = sizeof text - tl < (size_t)r ? sizeof text - tl : (size_t)r;
			memcpy(text + tl, chunk, take);
			tl += take;
		}
		total += r;
	}
	char hex[41];
	sha1_hex(&s, hex);
	j_open(&b, '{');
	k_int(&b, "bytes", total);
	k_str(&b, "sha1", hex);
	j_key(&b, "text");
	j_strn(&b, text, tl);
	k_errno(&b, e);
	j_close(&b, '}');
	add_result("stdin", NULL, &b);
}

/* ------------------------------------------------------------------ */
/* main                                                                */
/* ------------------------------------------------------------------ */

/* An i386 getpid (20) through `int 0x80`, made from a second thread while the main
 * thread waits for it: seccomp sees arch AUDIT_ARCH_I386. Under kafel's KILL_THREAD
 * only this thread would die and the process would go on. */
static void *int80_getpid(void *unused)
{
	(void)unused;
#if defined(__x86_64__)
	long ret = 20;
	__asm__ volatile("int $0x80" : "+a"(ret) : : "memory");
	return (void *)ret;
#else
	return (void *)-38L; /* -ENOSYS: no int 0x80 here */
#endif
}

static int starts(const char *s, const char *p, const char **rest)
{
	size_t n = strlen(p);
	if (strncmp(s, p, n))
		return 0;
	*rest = s + n;
	return 1;
}

/* Validates one check argument; 1 if it is a known, well-formed check. */
static int valid_check(const char *a)
{
	const char *r;
	long long v;
	double d;
	if (starts(a, "path:", &r))
		return *r != 0;
	if (starts(a, "syscall:", &r))
		return !strcmp(r, "all") || find_syscall_check(r) >= 0;
	if (starts(a, "connect:", &r)) {
		struct sockaddr_storage ss;
		socklen_t sl;
		return parse_hostport(r, &ss, &sl) == 0;
	}
	if (starts(a, "listen:", &r))
		return parse_ll(r, &v) == 0 && v >= 0 && v <= 65535;
	if (starts(a, "write:", &r)) {
		const char *c = strrchr(r, ':');
		return c && c != r && parse_ll(c + 1, &v) == 0 && v >= 0;
	}
	if (starts(a, "alloc:", &r))
		return parse_ll(r, &v) == 0 && v >= 0 && v <= (1LL << 24);
	if (starts(a, "fork:", &r))
		return parse_ll(r, &v) == 0 && v >= 0 && v <= 1000000;
	if (starts(a, "spin:", &r) || starts(a, "sleep:", &r) || starts(a, "daemonize:", &r))
		return parse_secs(r, &d) == 0;
	if (starts(a, "exit:", &r))
		return parse_ll(r, &v) == 0 && v >= 0 && v <= 255;
	if (starts(a, "kill:", &r) || starts(a, "killself:", &r))
		return parse_signal(r) > 0;
	if (starts(a, "print:", &r) || starts(a, "stderr:", &r))
		return 1;
	if (starts(a, "exec:", &r))
		return *r != 0;
	return !strcmp(a, "stdin") || !strcmp(a, "segv") || !strcmp(a, "int80thread");
}

static void say(int fd, const char *s)
{
	buf_t b = {0};
	b_puts(&b, s);
	b_putc(&b, '\n');
	write_all(fd, b.p, b.len);
	b_free(&b);
}

static void reset_and_unblock(int sig)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	sigaction(sig, &sa, NULL);
	sigset_t set;
	sigemptyset(&set);
	sigaddset(&set, sig);
	sigprocmask(SIG_UNBLOCK, &set, NULL);
}

int main(int argc, char **argv)
{
	g_argv0 = argc > 0 ? argv[0] : NULL;
	int selected = -1; /* -1: no selector given -> all */
	int bad = 0;
	buf_t badargs = {0};
	b_putc(&badargs, '[');
	for (int i = 1; i < argc; i++) {
		int sec = 0;
		for (size_t k = 0; k < sizeof sections / sizeof sections[0]; k++)
			if (!strcmp(argv[i], sections[k].name)) {
				if (selected < 0)
					selected = 0;
				selected |= sections[k].num;
				sec = 1;
			}
		if (!sec && !valid_check(argv[i])) {
			j_str(&badargs, argv[i]);
			bad = 1;
		}
	}
	b_putc(&badargs, ']');
	if (selected < 0)
		selected = S_ALL;

	/* With "none", stay down to the startup syscalls plus what the checks need. */
	int want_proc = selected != 0;
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], "daemonize:", 10))
			want_proc = 1;
	if (want_proc)
		g_proc = proc_mounted();

	/* 1. Sections, before anything changes the process. */
	buf_t out = {0};
	j_open(&out, '{');
	k_int(&out, "probe", PROBE_VERSION);
	j_key(&out, "args");
	j_open(&out, '[');
	for (int i = 1; i < argc; i++)
		j_str(&out, argv[i]);
	j_close(&out, ']');
	if (want_proc)
		k_bool(&out, "procMounted", g_proc);
	if (selected & S_IDS)
		sec_ids(&out);
	if (selected & S_HOST)
		sec_host(&out);
	if (selected & S_CWD)
		sec_cwd(&out);
	if (selected & S_CAPS)
		sec_caps(&out);
	if (selected & S_RLIM)
		sec_rlimits(&out);
	if (selected & S_MOUNTS)
		sec_mounts(&out);
	if (selected & S_NET)
		sec_net(&out);
	if (selected & S_ENV)
		sec_env(&out);
	if (selected & S_FDS)
		sec_fds(&out);
	if (selected & S_MISC)
		sec_misc(&out);
	if (selected & S_USERNS)
		sec_userns(&out);
	if (selected & S_CGROUP)
		sec_cgroup(&out);
	if (selected & S_PIDS)
		sec_pids(&out);
	if (selected & S_NS)
		sec_ns(&out);

	/* Checks need to reap their children even if the jail left SIGCHLD
	 * ignored, and must not die writing to a closed pipe. Restored before exec. */
	struct sigaction dfl, oldchld, oldpipe, ign;
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	memset(&ign, 0, sizeof ign);
	ign.sa_handler = SIG_IGN;
	sigaction(SIGCHLD, &dfl, &oldchld);
	sigaction(SIGPIPE, &ign, &oldpipe);

	/* 2. Checks, in argument order. */
	for (int i = 1; i < argc && !bad; i++) {
		const char *a = argv[i], *r;
		long long v;
		double d;
		if (starts(a, "path:", &r))
			check_path(r);
		else if (starts(a, "syscall:", &r)) {
			if (!strcmp(r, "all")) {
				for (size_t k = 0; k < NSYSCHECKS; k++)
					check_syscall((int)k);
			} else
				check_syscall(find_syscall_check(r));
		} else if (starts(a, "connect:", &r))
			check_connect(r);
		else if (starts(a, "listen:", &r) && parse_ll(r, &v) == 0)
			check_listen(v);
		else if (starts(a, "write:", &r)) {
			const char *c = strrchr(r, ':');
			char *path = strndup(r, (size_t)(c - r));
			if (path && parse_ll(c + 1, &v) == 0)
				check_write(path, v);
			free(path);
		} else if (starts(a, "alloc:", &r) && parse_ll(r, &v) == 0)
			check_alloc(v);
		else if (starts(a, "fork:", &r) && parse_ll(r, &v) == 0)
			check_fork(v);
		else if (starts(a, "spin:", &r) && parse_secs(r, &d) == 0)
			check_spin(d);
		else if (starts(a, "sleep:", &r) && parse_secs(r, &d) == 0)
			check_sleep(d);
		else if (starts(a, "daemonize:", &r) && parse_secs(r, &d) == 0)
			check_daemonize(d);
		else if (!strcmp(a, "stdin"))
			check_stdin();
		else if (starts(a, "print:", &r))
			say(1, r);
		else if (starts(a, "stderr:", &r))
			say(2, r);
	}

	emit_results(&out);
	if (bad) {
		j_key(&out, "badArgs");
		j_raw(&out, badargs.p);
	}
	j_close(&out, '}');
	b_putc(&out, '\n');
	write_all(1, out.p, out.len);
	b_free(&out);
	b_free(&badargs);
	if (bad) {
		say(2, "probe: unknown or malformed argument(s); see badArgs");
		return 2;
	}

	/* 3. Terminal actions, in argument order; the first that ends the process wins. */
	int code = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *r;
		long long v;
		if (starts(a, "exit:", &r) && parse_ll(r, &v) == 0) {
			code = (int)v;
			break;
		} else if (starts(a, "kill:", &r) || starts(a, "killself:", &r)) {
			int sig = parse_signal(r);
			reset_and_unblock(sig);
			if (a[4] == ':')
				raise(sig);
			else
				kill(getpid(), sig);
			char t[96], sn[16];
			snprintf(t, sizeof t, "probe: still alive after %s (pid %d)", sig_name(sig, sn, sizeof sn),
				 (int)getpid());
			say(2, t);
		} else if (!strcmp(a, "segv")) {
			reset_and_unblock(SIGSEGV);
			volatile int *np = NULL;
			*np = 1;
		} else if (!strcmp(a, "int80thread")) {
			reset_and_unblock(SIGSYS);
			pthread_t t;
			void *ret = NULL;
			int e = pthread_create(&t, NULL, int80_getpid, NULL);
			if (e == 0)
				e = pthread_join(t, &ret);
			char m[128];
			snprintf(m, sizeof m, "probe: still alive after int 0x80 in a thread (pthread %d, returned %ld)", e,
				 (long)ret);
			say(2, m);
		} else if (starts(a, "exec:", &r)) {
			sigaction(SIGCHLD, &oldchld, NULL);
			sigaction(SIGPIPE, &oldpipe, NULL);
			char *const av[] = {(char *)r, NULL};
			execve(r, av, environ);
			char t[PATH_MAX + 64], en[16];
			snprintf(t, sizeof t, "probe: execve %s: %s", r, errno_name(errno, en, sizeof en));
			say(2, t);
			return 127;
		}
	}
	return code;
}
