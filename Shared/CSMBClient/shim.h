#ifndef ALTO_CSMBCLIENT_SHIM_H
#define ALTO_CSMBCLIENT_SHIM_H

#include <sys/types.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <libsmbclient.h>

#endif
