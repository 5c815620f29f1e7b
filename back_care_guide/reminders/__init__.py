"""Daily stretch reminders: parsing, schedule math and delivery (their storage is in
:mod:`back_care_guide.store`)."""
