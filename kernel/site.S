/*
 * The bundled static site (scripts/site-bundle.py, format in lib/http/include/http/site.h),
 * read-only in the kernel image. kernel/linker.ld brackets section .site with
 * __site_start and __site_end; the Makefile passes the image's path as SITE_IMAGE.
 */
#ifndef SITE_IMAGE
#error "SITE_IMAGE must name the site image (the Makefile passes -DSITE_IMAGE)"
#endif

    .section .site, "a"
    .balign 8
    .incbin SITE_IMAGE
