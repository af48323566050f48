/* Signal names as users and clients write them. */
#define _GNU_SOURCE
#include "runtime.h"
#include "cleanup.h"

#include <ctype.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static const struct {
	const char *name;
	int sig;
} signal_table[] = {
	{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL },
	{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "IOT", SIGIOT }, { "BUS", SIGBUS },
	{ "FPE", SIGFPE }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
	{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
	{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
	{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG },
	{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
	{ "WINCH", SIGWINCH }, { "IO", SIGIO }, { "POLL", SIGPOLL }, { "PWR", SIGPWR },
	{ "SYS", SIGSYS },
};

static int parse_number(const char *s, int *out)
{
	char *end;
	long v;

	if (!*s || !isdigit((unsigned char)*s))
		return -1;
	v = strtol(s, &end, 10);
	if (*end || v < 0 || v > 64)
		return -1;
	*out = v;
	return 0;
}

int cell_signal_parse(const char *s, int *sig)
{
	int n;

	if (parse_number(s, &n) == 0) {
		if (n < 1 || n > SIGRTMAX)
			return -1;
		*sig = n;
		return 0;
	}
	if (!strncasecmp(s, "SIG", 3))
		s += 3;
	for (size_t i = 0; i < CELL_ARRAY_SIZE(signal_table); i++)
		if (!strcasecmp(signal_table[i].name, s)) {
			*sig = signal_table[i].sig;
			return 0;
		}
	if (!strncasecmp(s, "RTMIN", 5)) {
		n = 0;
		if (s[5] && (s[5] != '+' || parse_number(s + 6, &n) < 0))
			return -1;
		if (SIGRTMIN + n > SIGRTMAX)
			return -1;
		*sig = SIGRTMIN + n;
		return 0;
	}
	if (!strncasecmp(s, "RTMAX", 5)) {
		n = 0;
		if (s[5] && (s[5] != '-' || parse_number(s + 6, &n) < 0))
			return -1;
		if (SIGRTMAX - n < SIGRTMIN)
			return -1;
		*sig = SIGRTMAX - n;
		return 0;
	}
	return -1;
}
