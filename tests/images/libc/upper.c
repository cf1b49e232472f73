/* Upper-cases standard input: the musl image's own tool, linked dynamically against musl
   (PT_INTERP /lib/ld-musl-x86_64.so.1), so a user script that runs it proves the image's
   own C library still works under the kit. */
#include <ctype.h>
#include <stdio.h>

int main(void)
{
    int c;
    while ((c = getchar()) != EOF)
        putchar(toupper(c));
    return 0;
}
