// Accepting the presentation contexts of an association request, in one pass over them.
#pragma once

#include <dcmtk/config/osconfig.h>
#include <dcmtk/dcmnet/assoc.h>

namespace dimse {

// A set of abstract syntaxes accepted with one list of transfer syntaxes, most preferred first.
struct AcceptedSyntaxes {
    const char* const* abstract_syntaxes;
    int abstract_syntax_count;
    const char* const* transfer_syntaxes;
    int transfer_syntax_count;
};

// Answers every proposed presentation context as DCMTK's ASC_acceptContextsWithPreferredTransferSyntaxes
// does when called once per entry of `sets`, in order: a context whose abstract syntax is in a set is
// accepted with that set's most preferred transfer syntax the requestor proposed for it (default
// role; refused with "no reason" when the role selection fails), or refused with "transfer syntaxes
// not supported"; any other is refused with "abstract syntax not supported". The first set that
// names the abstract syntax decides. DCMTK's function walks every proposed context once per transfer
// syntax and compares it with every abstract syntax (storescu's 128 contexts against the ~150
// storage SOP classes and 13 syntaxes: about 22 million instructions per association); this looks
// each context up once.
OFCondition accept_presentation_contexts(T_ASC_Parameters* params, const AcceptedSyntaxes* sets, int set_count);

}  // namespace dimse
