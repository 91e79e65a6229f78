"""Sign in with a code texted to the mobile number the landlord holds."""

from __future__ import annotations

import streamlit as st

from tenants import session, signin

NUMBER_KEY = "signin_number_sent"


def render() -> None:
    st.title("Sign in to see your home energy")
    notice = st.session_state.pop("tenant_notice", None)
    if notice:
        st.info(notice)
    settings = session.settings()
    sent_to = st.session_state.get(NUMBER_KEY)
    if sent_to is None:
        st.write("We will text a 6-digit code to the mobile number your landlord has for you.")
        with st.form("ask_code"):
            number = st.text_input("Your mobile number", key="signin_mobile",
                                   autocomplete="tel", placeholder="07700 900123")
            asked = st.form_submit_button("Text me a code", type="primary")
        if asked:
            result = signin.request_code(settings, number, session.address())
            if result.refused:
                st.error(result.message)
                return
            st.session_state[NUMBER_KEY] = number
            st.session_state["signin_answer"] = result.message
            st.rerun()
        st.caption("No mobile on our records, or it has changed? Call your housing officer.")
        return
    st.success(st.session_state.get("signin_answer", signin.REQUEST_ANSWER))
    with st.form("enter_code"):
        code = st.text_input("The 6-digit code from the text", key="signin_code",
                             autocomplete="one-time-code", max_chars=6)
        entered = st.form_submit_button("Sign in", type="primary")
    if entered:
        who = signin.verify_code(settings, sent_to, code, session.address())
        if who is None:
            st.error("That code is not right, or it has expired or been used. Check the text "
                     "and try again, or ask for a new code.")
        else:
            session.sign_in(who)
            for key in (NUMBER_KEY, "signin_answer"):
                st.session_state.pop(key, None)
            st.rerun()
    if st.button("Ask for a new code"):
        st.session_state.pop(NUMBER_KEY, None)
        st.rerun()
