/* Transition shim: rbd: names are parsed by util/location.h now. */
#ifndef FERRY_RBDNAME_H
#define FERRY_RBDNAME_H

#include "util/location.h"

#define ferry_is_rbd_name ferry_location_is_rbd_name

#endif
