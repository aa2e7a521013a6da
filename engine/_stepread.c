/* engine._stepread: read a model's weights into memory MLX allocated, in small steps, without Python's lock.

   The weights reader (engine/weights_reader.py, ADR 0010) reads in 1 MiB steps so that no single system
   call keeps a core for long, and faults each step's destination pages in first (MADV_POPULATE_WRITE).
   In Python every step took the GIL back twice (after madvise, after pread); beside a thread that holds
   the GIL for long (PyMuPDF opening and rasterising the first page, which the engine overlaps with the
   load), each step waited for it and the load took 0.48-0.55 s instead of 0.31-0.37 s. Here the whole
   range is read with the GIL released once. Linux only; built by setup.py, optional (the reader falls
   back to the same steps in Python). */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <errno.h>
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

static PyObject *fill(PyObject *self, PyObject *args) {
    int fd, populate;
    Py_buffer view;
    long long offset;
    Py_ssize_t step;
    if (!PyArg_ParseTuple(args, "iw*Lnp", &fd, &view, &offset, &step, &populate)) return NULL;
    if (step <= 0 || offset < 0) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_ValueError, "step must be positive and offset not negative");
        return NULL;
    }
    char *dst = (char *)view.buf;
    Py_ssize_t n = view.len, done = 0;
    long page = sysconf(_SC_PAGESIZE);
    int err = 0, populated = populate, interrupted = 0;
    Py_BEGIN_ALLOW_THREADS
    while (done < n) {
        Py_ssize_t want = n - done < step ? n - done : step;
        if (populated) {
            uintptr_t a = (uintptr_t)(dst + done), start = a - a % (uintptr_t)page;
            if (madvise((void *)start, a + want - start, MADV_POPULATE_WRITE) != 0) populated = 0;
        }
        ssize_t got = pread(fd, dst + done, (size_t)want, (off_t)(offset + done));
        if (got < 0) {
            if (errno == EINTR && ++interrupted < 1000) continue; /* a signal: retry, but not for ever */
            err = errno;
            break;
        }
        if (got == 0) break; /* the end of the file: the caller reports the truncation */
        interrupted = 0;
        done += got;
    }
    Py_END_ALLOW_THREADS
    PyBuffer_Release(&view);
    if (err) {
        errno = err;
        return PyErr_SetFromErrno(PyExc_OSError);
    }
    return Py_BuildValue("(ni)", done, populated);
}

static PyMethodDef methods[] = {
    {"fill", fill, METH_VARARGS,
     "fill(fd, buffer, offset, step, populate) -> (bytes read, populate still on): read len(buffer) bytes at "
     "offset in step-sized preads, each step's pages faulted in first (MADV_POPULATE_WRITE) while populate "
     "is on, all without the GIL. Stops early at the end of the file."},
    {NULL, NULL, 0, NULL}};

static struct PyModuleDef module = {PyModuleDef_HEAD_INIT, "_stepread", NULL, -1, methods};

PyMODINIT_FUNC PyInit__stepread(void) { return PyModule_Create(&module); }
