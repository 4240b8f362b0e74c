// The public functional API: include this to get every op.
#pragma once

#include "autograd/autograd.h"
#include "ops/elementwise.h"
#include "ops/reduce.h"
#include "ops/shape.h"
