/* isolate/: the container driver — namespaces, rootfs, /dev, console and
 * the container's init. Its contract is the driver table. */
#ifndef CELL_ISOLATE_H
#define CELL_ISOLATE_H

#include "../runtime/driver.h"

extern const struct cell_driver cell_container_driver;

#endif
