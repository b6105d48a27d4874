#define _XOPEN_SOURCE_EXTENDED 1
#include <locale.h>
#include <ncursesw/curses.h>

// Macros Swift cannot import, as functions.
static inline int adder_color_pair(int n) { return (int)COLOR_PAIR(n); }
static inline int adder_colors(void) { return COLORS; }
static inline int adder_color_pairs(void) { return COLOR_PAIRS; }
static inline int adder_a_bold(void) { return (int)A_BOLD; }
static inline int adder_a_reverse(void) { return (int)A_REVERSE; }
static inline int adder_a_dim(void) { return (int)A_DIM; }
static inline void adder_set_escdelay(int ms) { set_escdelay(ms); }
static inline void adder_keypad_on(void) { keypad(stdscr, TRUE); }
static inline int adder_columns(void) { return getmaxx(stdscr); }
static inline int adder_lines(void) { return getmaxy(stdscr); }
