/* Temporary files written beside their final name and renamed over it
 * (bundles: cairn build, sign, promote, and receipts). A process stopped by
 * SIGINT, SIGTERM, SIGHUP or SIGQUIT removes the ones it holds before it
 * dies of the signal; the files of one killed outright (SIGKILL, a power
 * cut) are removed by the next writer of the same name, once their
 * process is gone. */
#ifndef CAIRN_TMPFILE_H
#define CAIRN_TMPFILE_H

/* "PATH.tmpPID" for this process, malloc'ed, after removing every
 * "PATH.tmpN" whose process N no longer exists. */
char *tmpfile_name(const char *path);
/* tmp is removed if a signal stops the process before tmpfile_drop; at
 * most TMPFILE_MAX at once (more are simply not watched). tmp must stay
 * valid until dropped. */
#define TMPFILE_MAX 8
void tmpfile_hold(const char *tmp);
void tmpfile_drop(const char *tmp);

#endif
