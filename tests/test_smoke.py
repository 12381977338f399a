from tests.conftest import Rig


async def test_menu_in_personal_chat(rig: Rig) -> None:
    chat = rig.personal(rig.cast.learner)
    assert await chat.say("menu") == 200
    [reply] = await chat.replies(1)
    assert reply.cards
