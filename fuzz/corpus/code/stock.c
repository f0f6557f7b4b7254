#include <stdio.h>
#include <stdlib.h>

struct stock {
    int level;
};

/* Adds n units. */
int stock_add(struct stock *s, int n)
{
    s->level += n;
    return s->level;
}

int main(void) {
    struct stock s = {0};
    printf("%d\n", stock_add(&s, 3));
    return 0;
}
