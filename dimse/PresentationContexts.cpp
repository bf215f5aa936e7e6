#include "dimse/PresentationContexts.h"

#include <cstring>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace dimse {

OFCondition accept_presentation_contexts(T_ASC_Parameters* params, const AcceptedSyntaxes* sets, int set_count) {
    // Abstract syntax -> the first set naming it.
    std::unordered_map<std::string_view, const AcceptedSyntaxes*> by_abstract;
    for (int s = set_count - 1; s >= 0; --s)
        for (int i = 0; i < sets[s].abstract_syntax_count; ++i) by_abstract[sets[s].abstract_syntaxes[i]] = &sets[s];

    const int n = ASC_countPresentationContexts(params);
    if (n == 0) return ASC_NOPRESENTATIONCONTEXTPROPOSED;
    // Read them all first: answering one changes nothing of the others, and each
    // ASC_getPresentationContext walks the list from its head.
    std::vector<T_ASC_PresentationContext> proposed(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        OFCondition cond = ASC_getPresentationContext(params, i, &proposed[static_cast<std::size_t>(i)]);
        if (cond.bad()) return cond;
    }
    for (const T_ASC_PresentationContext& pc : proposed) {
        const auto set = by_abstract.find(pc.abstractSyntax);
        if (set == by_abstract.end()) {
            OFCondition cond = ASC_refusePresentationContext(params, pc.presentationContextID, ASC_P_ABSTRACTSYNTAXNOTSUPPORTED);
            if (cond.bad()) return cond;
            continue;
        }
        const char* chosen = nullptr;
        for (int t = 0; t < set->second->transfer_syntax_count && !chosen; ++t)
            for (unsigned k = 0; k < pc.transferSyntaxCount; ++k)
                if (std::strcmp(pc.proposedTransferSyntaxes[k], set->second->transfer_syntaxes[t]) == 0) {
                    chosen = set->second->transfer_syntaxes[t];
                    break;
                }
        OFCondition cond = chosen ? ASC_acceptPresentationContext(params, pc.presentationContextID, chosen)
                                  : ASC_refusePresentationContext(params, pc.presentationContextID,
                                                                  ASC_P_TRANSFERSYNTAXESNOTSUPPORTED);
        if (cond == ASC_SCPSCUROLESELECTIONFAILED)
            cond = ASC_refusePresentationContext(params, pc.presentationContextID, ASC_P_NOREASON);
        if (cond.bad()) return cond;
    }
    return EC_Normal;
}

}  // namespace dimse
